// The chunk store of one node: dedup probe, sealing, segment append and group
// commit on the write side; location lookup, verified read and open on the read
// side; garbage collection and compaction. Everything here is node-local: where
// a chunk sits (segment, offset, length) and how full each segment is never go
// into a delta. Reference counts are replicated state (refs.h), changed only by
// apply; this store reads them to know what it may collect.
#pragma once

#include <array>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "chunk/segment_store.h"
#include "crypto/chunk_cipher.h"
#include "meta/store.h"

namespace kiseki::chunk {

// A chunk made ready for a delta to reference. While any copy of `pin` lives,
// the collector leaves the chunk's bytes alone, so the delta may reference it
// as fresh (refs.h apply_ref) even if its last other reference goes meanwhile.
// When the last pin goes, an unreferenced chunk is collected at once.
struct PreparedChunk {
  ChunkId id;
  uint32_t length = 0;                // plaintext bytes
  std::optional<Location> stored;     // set if this call stored a new copy (a dedup miss)
  std::shared_ptr<const void> pin;
};

struct CompactStats {
  size_t segments_removed = 0;
  size_t chunks_moved = 0;
};

class ChunkStore {
 public:
  // Sweeps the location table once: entries past a segment's recovered end or in
  // a missing segment go (with an error logged if the chunk is still referenced),
  // unreferenced chunks are collected, and each segment's live bytes are summed.
  // `more_refs`: the stores of the node's other metadata shards (ADR 0009): a
  // chunk is referenced while any shard counts a reference to it.
  static Result<std::unique_ptr<ChunkStore>> open(meta::Store* meta, SegmentStore* segments,
                                                  const crypto::KeyManager* keys,
                                                  std::vector<const meta::Store*> more_refs = {});

  // Dedup is decided before sealing: a hit costs one location probe and no
  // crypto. Either way the chunk comes back pinned. `id` is of `domain`'s domain.
  Result<PreparedChunk> prepare(const crypto::DomainKeys& domain, const ChunkId& id, ByteSpan plaintext);
  // Pins a chunk this node holds (kNotFound if it holds none), so that a
  // reference to it may count as fresh: a copy into another metadata shard.
  Result<PreparedChunk> pin_existing(const ChunkId& id);
  // Makes every stored chunk durable before the delta that references it commits.
  Status sync(const std::vector<PreparedChunk>& chunks);
  // Stores a chunk sealed elsewhere (a replica's copy, a repair) unless this node
  // has it; the caller syncs it (sync) before relying on it. Not durable alone.
  Result<Location> adopt(const ChunkId& id, ByteSpan sealed);
  // Drops this node's copy of a chunk (or fragment) whatever its references:
  // a cluster keeps it elsewhere (the writer's copy of an erasure-coded chunk
  // once its fragments are placed; a copy that rebalancing moved). Not durable
  // alone, like adopt. Returns whether there was one.
  Result<bool> evict(const ChunkId& key);
  // The same once no writer holds the chunk pinned (a writer that found it
  // here by dedup, or stored it, relies on this copy until its record commits).
  void evict_when_unpinned(const ChunkId& key);
  // A node of a cluster holds only the chunks placement gives it: scrub then
  // does not expect every referenced chunk here.
  void set_partial(bool partial) { partial_ = partial; }
  // Whether any erasure-coded fragment was stored here.
  bool holds_fragments() const { return max_fragment_.load() >= 0; }
  // The sealed record of a chunk, as adopt takes it.
  Status read_sealed(const ChunkId& id, Bytes* sealed) const;
  // Reads, verifies and opens a chunk of `domain` into `out` (resized to its
  // plaintext size).
  Status read(const crypto::DomainKeys& domain, const ChunkId& id, Bytes* out) const;
  // Verifies and opens a sealed record that came from elsewhere (another node).
  Status open_sealed(const crypto::DomainKeys& domain, const ChunkId& id, ByteSpan sealed, Bytes* out) const;
  // Where the chunk sits on this node; kNotFound if it has no bytes here.
  Result<Location> locate(const ChunkId& id) const;

  // Collects the given chunks if they are unreferenced and unpinned (called after
  // a commit that dropped references to them), and their fragments held here.
  // Returns how many went.
  size_t release(const std::vector<ChunkId>& ids);
  // A record that references these chunks committed (before release() of
  // what it dropped): while they stay pinned their references are known, so
  // the last pin's release need not read them to see whether to collect.
  void referenced(const std::vector<ChunkId>& ids);
  // Collects every unreferenced, unpinned chunk (of one dedup domain if given:
  // a domain's chunks are one key range).
  Result<size_t> collect_garbage(std::optional<DomainId> domain = std::nullopt);
  // Rewrites the live chunks of sealed segments whose live fraction is below
  // `threshold` and removes those segments.
  Result<CompactStats> compact(double threshold);

  // The keys of a dedup domain, for scrub: kCryptoShredded for a shredded
  // tenant's domain (its chunks are checked without their AEAD tag).
  using DomainKeysFn = std::function<Result<crypto::DomainKeys>(DomainId)>;
  // Checks every located chunk against its record (CRC, id, AEAD tag), every
  // segment's record chain, and that every referenced chunk has bytes here.
  // Writes pending location changes first, so the table it walks is complete.
  ScrubReport scrub(const DomainKeysFn& keys);

  // Location changes (new chunks, collected ones) are kept pending in memory and
  // written with the next group commit of the delta log, in its WriteBatch: a
  // record that references a new chunk commits with the chunk's location, and no
  // PUT pays a write of its own for it. `group` names the batch; commit_local
  // says whether it was written (the entries go) or not (they wait for the next).
  void add_local_writes(rocksdb::WriteBatch* batch, uint64_t group);
  void commit_local_writes(uint64_t group, bool written);
  // Writes what is pending on its own (a chunk store used without a log; close).
  Status flush_local();
  ~ChunkStore();

  uint64_t live_bytes(SegmentId seg) const;
  SegmentStore* segments() const { return segments_; }
  // What the open found missing: referenced chunks whose bytes are gone (a
  // segment file removed or cut short), in words; empty when nothing is.
  std::string lost_at_open() const {
    std::lock_guard lock(live_mu_);
    return lost_at_open_;
  }

 private:
  struct PendingLocation {
    std::optional<Location> loc;  // nullopt: the chunk was collected
    uint64_t group = 0;           // the batch it is in; 0 while in none
  };
  struct Stripe {
    std::mutex mu;  // serialises probe+pin, record, collect and move of its chunks
    std::unordered_map<ChunkId, uint32_t, ChunkIdHash> pins;
    std::unordered_map<ChunkId, PendingLocation, ChunkIdHash> pending;
    std::unordered_set<ChunkId, ChunkIdHash> evict_on_release;  // evict_when_unpinned
    // Pinned chunks that a committed record references (referenced()), and
    // pinned ones a collection passed over (a reference may have gone): the
    // last pin's release skips the reference count for the first unless it
    // is in the second. Both are cleared with the last pin.
    std::unordered_set<ChunkId, ChunkIdHash> backed, passed_over;
  };
  // With the stripe locked: drops the location whatever the references.
  Result<bool> evict_locked(Stripe& s, const ChunkId& key);
  ChunkStore(meta::Store* meta, SegmentStore* segments, const crypto::KeyManager* keys);
  Status sweep();
  // References to the chunk over every shard's store.
  Result<uint64_t> references(const ChunkId& id) const;
  std::string lost_at_open_;  // guarded by live_mu_ (stays until a clean scrub)
  Stripe& stripe(const ChunkId& id) const { return stripes_[id.bytes[8] % stripes_.size()]; }
  std::shared_ptr<const void> pin_locked(Stripe& s, const ChunkId& id);
  // With the stripe locked: the chunk's location, pending changes first.
  Result<std::optional<Location>> find_locked(const Stripe& s, const ChunkId& id) const;
  Result<std::optional<Location>> stored_location(const ChunkId& id) const;  // the table alone
  void pend_locked(Stripe& s, const ChunkId& id, std::optional<Location> loc);
  // With the stripe locked: drops the chunk's location if it is unreferenced.
  Result<bool> collect_locked(Stripe& s, const ChunkId& id);
  void add_live(SegmentId seg, int64_t bytes);

  meta::Store* meta_;
  std::vector<const meta::Store*> more_refs_;
  SegmentStore* segments_;
  crypto::ChunkCipher cipher_;
  mutable std::array<Stripe, 64> stripes_;
  std::atomic<uint64_t> pending_count_{0};  // entries in every stripe's `pending`
  std::atomic<int> max_fragment_{-1};  // the highest fragment index stored here; -1: none
  void note_key(const ChunkId& key) {
    if (!is_fragment_id(key)) return;
    int i = static_cast<int>(fragment_index(key)), cur = max_fragment_.load();
    while (i > cur && !max_fragment_.compare_exchange_weak(cur, i)) {
    }
  }
  bool partial_ = false;
  mutable std::mutex live_mu_;  // guards live_
  std::map<SegmentId, uint64_t> live_;
  Counter* dedup_hits_;
  Counter* dedup_misses_;
  Counter* bytes_sealed_;
  Counter* bytes_opened_;
  Counter* collected_;
};

std::string encode_location(const Location& loc);
bool decode_location(std::string_view v, Location* loc);

}  // namespace kiseki::chunk
