// L1 of the client cache: blocks in memory, least recently used evicted first,
// at most `capacity` bytes.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client/cache/block_key.h"

namespace kiseki::client {

using Block = std::shared_ptr<const std::string>;

class MemoryCache {
 public:
  explicit MemoryCache(uint64_t capacity) : capacity_(capacity) {}

  Block get(const BlockKey& key, const FileVersion& v);
  void put(const BlockKey& key, const FileVersion& v, Block data);
  void forget_file(NamespaceId ns, InodeId ino);
  void wipe();
  uint64_t bytes() const;

 private:
  struct Entry {
    Block data;
    FileVersion version;
    std::list<BlockKey>::iterator lru;
  };
  void erase(std::map<BlockKey, Entry>::iterator it);

  const uint64_t capacity_;
  mutable std::mutex mu_;  // guards what follows
  std::map<BlockKey, Entry> blocks_;
  std::list<BlockKey> lru_;  // front: most recently used
  uint64_t bytes_ = 0;
};

}  // namespace kiseki::client
