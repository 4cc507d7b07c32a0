// L2 of the client cache: blocks as files under DIR/kiseki-l2 (0700), each with
// a header naming its block and version and a CRC32C over header and data; a
// block that fails its check is removed and reported, never returned. At most
// `capacity` bytes: organic blocks are evicted least recently used first,
// pinned ones (staged, or every block of a `cache=pinned` mount) never; a pin
// that does not fit is refused with kNoSpace. A cache lives for one mount: it
// is emptied when opened (what an earlier mount left) and when closed, and
// one directory serves one mount at a time (a lock file says so).
#pragma once

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/cache/memory_cache.h"
#include "common/status.h"

namespace kiseki::client {

class DiskCache {
 public:
  static Result<std::unique_ptr<DiskCache>> open(const std::string& dir, uint64_t capacity);
  ~DiskCache();  // wipes

  Block get(const BlockKey& key, const FileVersion& v);
  // The block is there for `v`: makes it pinned if `pin`.
  bool contains(const BlockKey& key, const FileVersion& v, bool pin);
  // Organic blocks that do not fit are not kept (OK); pinned ones get kNoSpace.
  Status put(const BlockKey& key, const FileVersion& v, std::string_view data, bool pinned);
  void forget_file(NamespaceId ns, InodeId ino);
  void wipe();

  struct Usage {
    uint64_t bytes = 0, pinned_bytes = 0, corrupt = 0;
  };
  Usage usage() const;
  uint64_t capacity() const { return capacity_; }

 private:
  struct Entry {
    FileVersion version;
    uint64_t bytes = 0;  // on disk, header included
    bool pinned = false;
    std::list<BlockKey>::iterator lru;  // organic blocks only
  };
  DiskCache(std::string root, uint64_t capacity, int lock_fd);
  std::string path_of(const BlockKey& key) const;
  // Drops the entry, and its file unless `keep_file` (the path holds another's).
  void erase(std::map<BlockKey, Entry>::iterator it, bool keep_file = false);
  bool make_room(uint64_t bytes, bool pinned);  // with mu_ held
  void empty_dirs();

  const std::string root_;  // DIR/kiseki-l2
  const uint64_t capacity_;
  const int lock_fd_;
  std::atomic<uint64_t> tmp_seq_{0};
  std::atomic<uint64_t> corrupt_{0};
  mutable std::mutex mu_;  // guards what follows
  std::map<BlockKey, Entry> blocks_;
  std::list<BlockKey> lru_;  // organic, front: most recently used
  uint64_t bytes_ = 0, pinned_bytes_ = 0;
};

}  // namespace kiseki::client
