// A bounded cache of opened (decrypted and verified) chunks for reads: a hot
// chunk is served without a disk read, a CRC and an AES-GCM open. Chunks are
// immutable (their id is a keyed hash of their plaintext), so an entry never
// goes stale; it goes when it is the least recently used past the budget, or
// at once when the tenant whose domain it belongs to is crypto-shredded
// (clear_domain), its bytes zeroed either way. Scrub and every other read that
// must look at the disk go to the chunk store, never here.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/metrics.h"

namespace kiseki::chunk {

// Plaintext that zeroes itself when the last reader lets go.
struct OpenedChunk {
  Bytes bytes;
  ~OpenedChunk() { secure_zero(bytes.data(), bytes.size()); }
};

class ChunkCache {
 public:
  // `capacity_bytes` of plaintext in all; 0 turns the cache off.
  explicit ChunkCache(size_t capacity_bytes);

  bool enabled() const { return shard_capacity_ > 0; }
  std::shared_ptr<const OpenedChunk> get(const ChunkId& id);
  // Chunks larger than a shard's share of the budget are not kept.
  void put(const ChunkId& id, std::shared_ptr<const OpenedChunk> chunk);
  // Drops (and zeroes) every chunk of a dedup domain: its tenant was
  // crypto-shredded. `forever`: the domain's keys are gone, so no chunk of it
  // is taken again (a read that began before the shred cannot put one back).
  void clear_domain(DomainId domain, bool forever);
  size_t bytes() const;

 private:
  struct Shard {
    mutable std::mutex mu;  // guards everything below
    std::list<ChunkId> lru;  // most recent first
    struct Entry {
      std::shared_ptr<const OpenedChunk> chunk;
      std::list<ChunkId>::iterator pos;
    };
    std::unordered_map<ChunkId, Entry, ChunkIdHash> map;
    size_t bytes = 0;
  };
  Shard& shard(const ChunkId& id) { return shards_[id.bytes[9] % shards_.size()]; }
  void erase_locked(Shard& s, std::unordered_map<ChunkId, Shard::Entry, ChunkIdHash>::iterator it);

  size_t shard_capacity_;
  mutable std::mutex dead_mu_;  // guards dead_
  std::set<DomainId> dead_;
  std::vector<Shard> shards_;
  Counter* hits_;
  Counter* misses_;
  Gauge* bytes_gauge_;
};

}  // namespace kiseki::chunk
