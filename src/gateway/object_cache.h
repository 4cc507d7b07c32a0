// Objects opened by key, for reads: what open_object found for a key (its
// info and opened layout) a moment ago, kept while no metadata store of this
// process has taken a write since (meta::Store::generation()). A GET of a hot
// key then skips the walk of its path (a dentry read per component), the inode
// read and the opening of its sealed layout. Any write, of any key, makes every
// entry stale: the cache serves read-mostly work (a data set read again and
// again) and costs a mixed load one atomic load per open.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/generation_cache.h"
#include "gateway/types.h"

namespace kiseki::gateway {

class ObjectCache {
 public:
  ObjectCache();
  // The handle opened for `key` of `ns`, if one was kept at the store's
  // present generation.
  std::optional<ObjectHandle> get(NsRef ns, std::string_view key) const;
  // Keeps `h`, opened from what the stores held at generation `gen` (read
  // before the open began). A layout of more than kMaxExtents is not kept: its
  // object (4 MiB and more at the average chunk size) is large enough that
  // opening it again costs little beside its bytes, and the bound holds the
  // cache to tens of MiB at worst (4 096 entries of at most 64 extents, the
  // user metadata S3 allows and an inline object's bytes).
  void put(NsRef ns, std::string_view key, uint64_t gen, const ObjectHandle& h);
  // Drops every entry (a crypto-shred: no opened layout outlives its key).
  void clear();
  // Entries held, stale ones included.
  size_t entries() const;

  static constexpr size_t kMaxExtents = 64;
  static constexpr size_t kMaxEntriesPerShard = 256;

 private:
  static std::string key_of(NsRef ns, std::string_view key);

  GenerationCache<ObjectHandle> cache_;
};

}  // namespace kiseki::gateway
