// The data path of a kiseki mount: reads through the client cache, writes,
// fsync, and the ioctls (staging, counters).
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "mount/mount_ioctl.h"
#include "mount/mount_state.h"

namespace kiseki::mount::detail {

// Block `index` of the file as of `v`, from the cache or the server (and then
// cached when it is whole).
Result<Block> block_of(Fs& fs, InodeId ino, uint64_t index, const FileVersion& v, const Caller& who) {
  BlockKey key{fs.ns, ino, index};
  if (Block b = fs.cache->get(key, v)) return b;
  KISEKI_ASSIGN_OR_RETURN(std::string data, fs.client->read(fs.ns, ino, index * kBlockSize, kBlockSize, who));
  fs.vouched_ns.store(steady_ns(), std::memory_order_relaxed);
  auto b = std::make_shared<const std::string>(std::move(data));
  if (v.size > index * kBlockSize && b->size() == std::min(kBlockSize, v.size - index * kBlockSize))
    fs.cache->put(key, v, b);
  return Block(b);
}

// Reads through the client cache whole blocks of the version the file had
// when opened (close-to-open, as without the cache).
void cached_read(fuse_req_t req, Fs& fs, InodeId ino, uint64_t off, size_t size, const Caller& who) {
  if (steady_ns() - fs.vouched_ns.load(std::memory_order_relaxed) > kVouchIntervalNs) {
    auto a = fs.client->getattr(fs.ns, ino);
    if (!a) return reply_status(req, a.status());
    fs.vouched_ns.store(steady_ns(), std::memory_order_relaxed);
  }
  FileVersion v = opened_version(fs, ino);
  uint64_t end = off + size;
  std::vector<Block> held;
  std::vector<iovec> iov;
  for (uint64_t at = off; at < end;) {
    uint64_t index = at / kBlockSize;
    auto b = block_of(fs, ino, index, v, who);
    if (!b) return reply_status(req, b.status());
    uint64_t in = at - index * kBlockSize;
    if ((*b)->size() <= in) break;
    uint64_t n = std::min<uint64_t>((*b)->size() - in, end - at);
    iov.push_back(iovec{const_cast<char*>((*b)->data()) + in, n});
    held.push_back(std::move(*b));
    at += n;
    if (held.back()->size() < kBlockSize) break;  // the file ends there
  }
  fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kRead, size);
  if (fs.cache) return cached_read(req, fs, ino, static_cast<uint64_t>(off), size, opener(fi));
  auto data = fs.client->read(fs.ns, ino, static_cast<uint64_t>(off), size, opener(fi));
  if (!data) return reply_status(req, data.status());
  fuse_reply_buf(req, data->data(), data->size());
}

// KISEKI_IOC_STAGE: the blocks of the range pinned in the disk cache.
void stage(fuse_req_t req, Fs& fs, InodeId ino, const kiseki_stage_range& in, const Caller& who) {
  if (!fs.cache || !fs.cache->has_disk()) return (void)fuse_reply_err(req, EOPNOTSUPP);
  FileVersion v = opened_version(fs, ino);
  kiseki_stage_range out = in;
  out.staged = out.fetched = 0;
  uint64_t end = std::min<uint64_t>(in.offset + std::min<uint64_t>(in.length, UINT64_MAX - in.offset), v.size);
  for (uint64_t index = in.offset / kBlockSize; index * kBlockSize < end; ++index) {
    BlockKey key{fs.ns, ino, index};
    uint64_t len = std::min(kBlockSize, v.size - index * kBlockSize);
    if (!fs.cache->staged(key, v)) {
      auto data = fs.client->read(fs.ns, ino, index * kBlockSize, kBlockSize, who);
      if (!data) return reply_status(req, data.status());
      if (data->size() != len) return (void)fuse_reply_err(req, ESTALE);  // changed since opened
      if (Status st = fs.cache->stage(key, v, *data); !st) return reply_status(req, st);
      out.fetched += len;
    }
    out.staged += len;
  }
  fuse_reply_ioctl(req, 0, &out, sizeof(out));
}

void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void*, fuse_file_info* fi, unsigned flags,
              const void* in_buf, size_t in_bufsz, size_t) {
  Fs& fs = counted(req, Fs::kOther);
  if (cmd == KISEKI_IOC_CACHE_STATS) {
    kiseki_cache_stats out{};
    if (fs.cache) {
      client::CacheStats s = fs.cache->stats();
      out = {s.l1_hits, s.l2_hits, s.misses, s.corrupt, s.l1_bytes, s.l2_bytes, s.pinned_bytes, s.l2_capacity};
    }
    return (void)fuse_reply_ioctl(req, 0, &out, sizeof(out));
  }
  if (cmd == KISEKI_IOC_REQUEST_STATS) {
    uint64_t out[Fs::kKinds];
    for (int i = 0; i < Fs::kKinds; ++i) out[i] = fs.requests[i].load(std::memory_order_relaxed);
    static_assert(sizeof(out) == sizeof(kiseki_request_stats));
    return (void)fuse_reply_ioctl(req, 0, out, sizeof(out));
  }
  if (cmd == KISEKI_IOC_STAGE) {
    if (flags & FUSE_IOCTL_DIR) return (void)fuse_reply_err(req, EISDIR);
    if (in_bufsz < sizeof(kiseki_stage_range)) return (void)fuse_reply_err(req, EINVAL);
    kiseki_stage_range in;
    std::memcpy(&in, in_buf, sizeof(in));
    return stage(req, fs, ino, in, opener(fi));
  }
  fuse_reply_err(req, ENOTTY);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kWrite, size);
  // Unstable, as a local file system's write(2): visible to every protocol at
  // once, durable at the next fsync.
  auto a = fs.client->write(fs.ns, ino, static_cast<uint64_t>(off), std::string_view(buf, size), false, opener(fi));
  if (!a) return reply_status(req, a.status());
  remember(fs, *a);
  fuse_reply_write(req, size);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kFsync);
  reply_status(req, fs.client->fsync(fs.ns, ino, opener(fi)));
}

}  // namespace kiseki::mount::detail
