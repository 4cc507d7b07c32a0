#include "client/cache/memory_cache.h"

namespace kiseki::client {

Block MemoryCache::get(const BlockKey& key, const FileVersion& v) {
  std::lock_guard lock(mu_);
  auto it = blocks_.find(key);
  if (it == blocks_.end()) return nullptr;
  if (it->second.version != v) {
    erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.data;
}

void MemoryCache::put(const BlockKey& key, const FileVersion& v, Block data) {
  if (data->size() > capacity_) return;
  std::lock_guard lock(mu_);
  if (auto it = blocks_.find(key); it != blocks_.end()) erase(it);
  while (bytes_ + data->size() > capacity_ && !lru_.empty()) erase(blocks_.find(lru_.back()));
  bytes_ += data->size();
  lru_.push_front(key);
  blocks_.emplace(key, Entry{std::move(data), v, lru_.begin()});
}

void MemoryCache::forget_file(NamespaceId ns, InodeId ino) {
  std::lock_guard lock(mu_);
  auto it = blocks_.lower_bound(BlockKey{ns, ino, 0});
  while (it != blocks_.end() && it->first.ns == ns && it->first.ino == ino) erase(it++);
}

void MemoryCache::wipe() {
  std::lock_guard lock(mu_);
  blocks_.clear();
  lru_.clear();
  bytes_ = 0;
}

uint64_t MemoryCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

void MemoryCache::erase(std::map<BlockKey, Entry>::iterator it) {
  bytes_ -= it->second.data->size();
  lru_.erase(it->second.lru);
  blocks_.erase(it);
}

}  // namespace kiseki::client
