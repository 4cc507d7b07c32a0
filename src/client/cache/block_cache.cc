#include "client/cache/block_cache.h"

namespace kiseki::client {

Result<std::unique_ptr<BlockCache>> BlockCache::open(const CacheOptions& opts) {
  std::unique_ptr<BlockCache> c(new BlockCache(opts));
  if (!opts.dir.empty()) {
    KISEKI_ASSIGN_OR_RETURN(c->disk_, DiskCache::open(opts.dir, opts.disk_bytes));
  }
  return c;
}

Block BlockCache::get(const BlockKey& key, const FileVersion& v) {
  if (Block b = memory_.get(key, v)) {
    l1_hits_.fetch_add(1, std::memory_order_relaxed);
    return b;
  }
  if (disk_) {
    if (Block b = disk_->get(key, v)) {
      l2_hits_.fetch_add(1, std::memory_order_relaxed);
      memory_.put(key, v, b);
      return b;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void BlockCache::put(const BlockKey& key, const FileVersion& v, Block data) {
  if (disk_) (void)disk_->put(key, v, *data, opts_.mode == CacheMode::kPinned);  // a full pinned cache reads through
  memory_.put(key, v, std::move(data));
}

bool BlockCache::staged(const BlockKey& key, const FileVersion& v) { return disk_ && disk_->contains(key, v, true); }

Status BlockCache::stage(const BlockKey& key, const FileVersion& v, const std::string& data) {
  if (!disk_) return Status(ErrorCode::kNotSupported, "the mount has no cache_dir to stage into");
  return disk_->put(key, v, data, true);
}

void BlockCache::forget_file(NamespaceId ns, InodeId ino) {
  memory_.forget_file(ns, ino);
  if (disk_) disk_->forget_file(ns, ino);
}

void BlockCache::wipe() {
  memory_.wipe();
  if (disk_) disk_->wipe();
}

CacheStats BlockCache::stats() const {
  CacheStats s;
  s.l1_hits = l1_hits_.load(std::memory_order_relaxed);
  s.l2_hits = l2_hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.l1_bytes = memory_.bytes();
  if (disk_) {
    DiskCache::Usage u = disk_->usage();
    s.corrupt = u.corrupt;
    s.l2_bytes = u.bytes;
    s.pinned_bytes = u.pinned_bytes;
    s.l2_capacity = disk_->capacity();
  }
  return s;
}

}  // namespace kiseki::client
