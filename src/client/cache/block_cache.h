// The client cache of a mount (docs/mount.md): L1 in memory, then L2 on local
// disk when the mount names a directory. `organic` (the default) keeps what is
// read and evicts the least recently used; `pinned` keeps every block read
// until the mount ends; `bypass` caches nothing (no BlockCache is made).
// Staged blocks are pinned in any mode. wipe() empties both levels: on
// unmount, and when the server says the tenant's key is shredded or refuses
// the mount's key.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "client/cache/disk_cache.h"
#include "client/cache/memory_cache.h"

namespace kiseki::client {

enum class CacheMode { kOrganic, kPinned, kBypass };

struct CacheOptions {
  CacheMode mode = CacheMode::kOrganic;
  uint64_t memory_bytes = 256ull << 20;  // L1
  std::string dir;                       // L2; none without it
  uint64_t disk_bytes = 16ull << 30;
};

// What the cache did since the mount began (KISEKI_IOC_CACHE_STATS).
struct CacheStats {
  uint64_t l1_hits = 0, l2_hits = 0, misses = 0, corrupt = 0;
  uint64_t l1_bytes = 0, l2_bytes = 0, pinned_bytes = 0, l2_capacity = 0;
};

class BlockCache {
 public:
  static Result<std::unique_ptr<BlockCache>> open(const CacheOptions& opts);

  Block get(const BlockKey& key, const FileVersion& v);
  // A block read from the server; pinned when the mode says so.
  void put(const BlockKey& key, const FileVersion& v, Block data);
  // Staging: whether the block is already on disk for `v` (pinned if so), and
  // keeping it pinned on disk. kNotSupported without L2, kNoSpace when full.
  bool staged(const BlockKey& key, const FileVersion& v);
  Status stage(const BlockKey& key, const FileVersion& v, const std::string& data);
  void forget_file(NamespaceId ns, InodeId ino);
  void wipe();
  CacheStats stats() const;
  bool has_disk() const { return disk_ != nullptr; }

 private:
  explicit BlockCache(const CacheOptions& o) : opts_(o), memory_(o.memory_bytes) {}

  const CacheOptions opts_;
  MemoryCache memory_;
  std::unique_ptr<DiskCache> disk_;
  std::atomic<uint64_t> l1_hits_{0}, l2_hits_{0}, misses_{0};
};

}  // namespace kiseki::client
