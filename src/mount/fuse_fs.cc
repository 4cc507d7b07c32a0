#define FUSE_USE_VERSION 314
#include "mount/fuse_fs.h"

#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "client/errno.h"
#include "mount/mount_ioctl.h"

namespace kiseki::mount {

namespace {

using client::Block;
using client::BlockCache;
using client::BlockKey;
using client::Client;
using client::FileVersion;
using client::kBlockSize;
using gateway::Caller;
using gateway::FileAttr;
using gateway::FileType;

int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

int64_t steady_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

// Inodes whose fresh versions are remembered at most (then forgotten at once).
constexpr size_t kMaxFresh = 1 << 18;

// Reads served from the cache alone ask the server about the file at least
// this often, so that a shredded tenant's data stops being served.
constexpr int64_t kVouchIntervalNs = 1000000000;

// One mounted namespace: the client, its cache and what the kernel was last told.
struct Fs {
  std::unique_ptr<Client> client;
  NamespaceId ns = 0;
  MountOptions opts;
  std::unique_ptr<BlockCache> cache;  // none with cache=bypass
  std::atomic<int64_t> vouched_ns{0};  // the server last answered a read then
  std::mutex mu;  // guards seen
  // mtime and size of each file as of the last open or our own last write: an
  // open that finds them unchanged keeps the kernel's cached pages and the
  // client cache's blocks, which are of that version.
  std::unordered_map<InodeId, FileVersion> seen;
  // The version of each inode as the server last gave it and when (steady ns):
  // an open within attr_timeout of it needs no call to the server.
  struct Fresh {
    FileVersion v;
    int64_t at_ns = 0;
  };
  std::unordered_map<InodeId, Fresh> fresh;
  // KISEKI_IOC_REQUEST_STATS: the requests answered, by kind.
  enum Kind { kLookup, kGetattr, kSetattr, kOpen, kCreate, kRead, kWrite, kFlush, kRelease, kFsync, kReaddir, kOther,
              kReadBytes, kWriteBytes, kKinds };
  std::atomic<uint64_t> requests[kKinds] = {};

  // The server says the tenant's key is gone, or refuses ours: nothing of the
  // tenant may stay on this machine.
  void wipe(const Status& why) {
    if (!cache) return;
    cache->wipe();
    std::fprintf(stderr, "kiseki mount: client cache wiped: %s\n", why.message().c_str());
  }
};

// What an open file remembers: who opened it (reads and writes run as them).
struct OpenFile {
  Caller who;
};

Fs* fs_of(fuse_req_t req) { return static_cast<Fs*>(fuse_req_userdata(req)); }

// The mount of a request, its kind counted.
Fs& counted(fuse_req_t req, Fs::Kind kind, uint64_t bytes = 0) {
  Fs& fs = *fs_of(req);
  fs.requests[kind].fetch_add(1, std::memory_order_relaxed);
  if (kind == Fs::kRead || kind == Fs::kWrite)
    fs.requests[kind == Fs::kRead ? Fs::kReadBytes : Fs::kWriteBytes].fetch_add(bytes, std::memory_order_relaxed);
  return fs;
}

Caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller c;
  c.uid = ctx->uid;
  c.gid = ctx->gid;
  gid_t groups[32];
  int n = fuse_req_getgroups(req, 32, groups);
  for (int i = 0; i < std::min(n, 32); ++i) c.groups.push_back(groups[i]);
  return c;
}

void reply_status(fuse_req_t req, const Status& st) {
  if (st.code() == ErrorCode::kCryptoShredded) fs_of(req)->wipe(st);
  fuse_reply_err(req, st ? 0 : client::to_errno(st.code()));
}

timespec ts(int64_t ns) { return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)}; }

struct stat to_stat(const Fs& fs, const FileAttr& a) {
  struct stat st{};
  st.st_ino = a.ino;
  uint32_t type = a.type == FileType::kDirectory ? S_IFDIR : a.type == FileType::kSymlink ? S_IFLNK : S_IFREG;
  st.st_mode = type | (a.mode & 07777);
  st.st_nlink = a.nlink;
  st.st_uid = fs.opts.uid.value_or(a.uid);
  st.st_gid = fs.opts.gid.value_or(a.gid);
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = 1 << 20;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_atim = ts(a.atime_ns);
  st.st_mtim = ts(a.mtime_ns);
  st.st_ctim = ts(a.ctime_ns);
  return st;
}

fuse_entry_param entry_of(const Fs& fs, const FileAttr& a) {
  fuse_entry_param e{};
  e.ino = a.ino;
  e.generation = a.generation;
  e.attr = to_stat(fs, a);
  e.attr_timeout = fs.opts.attr_timeout_s;
  e.entry_timeout = fs.opts.entry_timeout_s;
  return e;
}

FileVersion version_of(const FileAttr& a) { return FileVersion{a.mtime_ns, a.size}; }

// What the server just said of a file.
void note(Fs& fs, const FileAttr& a) {
  if (a.type != FileType::kFile) return;
  std::lock_guard lock(fs.mu);
  if (fs.fresh.size() >= kMaxFresh) fs.fresh.clear();
  fs.fresh[a.ino] = Fs::Fresh{version_of(a), steady_ns()};
}

void reply_entry(fuse_req_t req, const Result<FileAttr>& a) {
  if (!a) return reply_status(req, a.status());
  note(*fs_of(req), *a);
  fuse_entry_param e = entry_of(*fs_of(req), *a);
  fuse_reply_entry(req, &e);
}

void reply_attr(fuse_req_t req, const Result<FileAttr>& a) {
  if (!a) return reply_status(req, a.status());
  note(*fs_of(req), *a);
  struct stat st = to_stat(*fs_of(req), *a);
  fuse_reply_attr(req, &st, fs_of(req)->opts.attr_timeout_s);
}

// Whether the kernel may keep its cached pages of the file opened at version
// `v` (and remember `v`); the client cache forgets the blocks of a file that changed.
bool unchanged(Fs& fs, InodeId ino, const FileVersion& v) {
  bool same;
  {
    std::lock_guard lock(fs.mu);
    auto [it, first] = fs.seen.try_emplace(ino, v);
    same = !first && it->second == v;
    it->second = v;
  }
  if (!same && fs.cache) fs.cache->forget_file(fs.ns, ino);
  return same;
}

// After our own change of the file: its cached blocks are of an older version.
void remember(Fs& fs, const FileAttr& a) {
  note(fs, a);
  {
    std::lock_guard lock(fs.mu);
    fs.seen[a.ino] = version_of(a);
  }
  if (fs.cache) fs.cache->forget_file(fs.ns, a.ino);
}

// The file's version if the server gave it within the attribute timeout.
std::optional<FileVersion> fresh_version(Fs& fs, InodeId ino) {
  std::lock_guard lock(fs.mu);
  auto it = fs.fresh.find(ino);
  if (it == fs.fresh.end() || steady_ns() - it->second.at_ns > static_cast<int64_t>(fs.opts.attr_timeout_s * 1e9))
    return std::nullopt;
  return it->second.v;
}

FileVersion opened_version(Fs& fs, InodeId ino) {
  std::lock_guard lock(fs.mu);
  auto it = fs.seen.find(ino);
  return it == fs.seen.end() ? FileVersion{} : it->second;
}

// ---- the operations

void op_init(void* userdata, fuse_conn_info* conn) {
  auto* fs = static_cast<Fs*>(userdata);
  if (fs->opts.writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;  // O_TRUNC comes as a SETATTR of size 0
  conn->max_write = native::kMaxIo;
  conn->max_read = native::kMaxIo;  // as -o max_read (fuse_session_new refuses a difference)
  conn->max_readahead = native::kMaxIo;
  conn->time_gran = 1;
  if (conn->capable & FUSE_CAP_IOCTL_DIR) conn->want |= FUSE_CAP_IOCTL_DIR;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs& fs = counted(req, Fs::kLookup);
  auto a = fs.client->lookup(fs.ns, parent, name, caller_of(req));
  if (!a && a.status().code() == ErrorCode::kNotFound) {
    // A negative entry, trusted for entry_timeout like a positive one.
    fuse_entry_param e{};
    e.entry_timeout = fs.opts.entry_timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  reply_entry(req, a);
}

void op_forget(fuse_req_t req, fuse_ino_t, uint64_t) {
  counted(req, Fs::kOther);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Fs& fs = counted(req, Fs::kGetattr);
  reply_attr(req, fs.client->getattr(fs.ns, ino));
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  Fs& fs = counted(req, Fs::kSetattr);
  gateway::SetAttrRequest r;
  if (to_set & FUSE_SET_ATTR_MODE) r.mode = attr->st_mode & 07777;
  if (to_set & FUSE_SET_ATTR_UID) r.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) r.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) r.size = static_cast<uint64_t>(attr->st_size);
  auto ns_of = [](const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; };
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) r.atime_ns = now_ns();
  else if (to_set & FUSE_SET_ATTR_ATIME) r.atime_ns = ns_of(attr->st_atim);
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) r.mtime_ns = now_ns();
  else if (to_set & FUSE_SET_ATTR_MTIME) r.mtime_ns = ns_of(attr->st_mtim);
  auto a = fs.client->setattr(fs.ns, ino, r, caller_of(req));
  if (a) remember(fs, *a);
  reply_attr(req, a);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  Fs& fs = counted(req, Fs::kOther);
  auto t = fs.client->readlink(fs.ns, ino, caller_of(req));
  if (!t) return reply_status(req, t.status());
  fuse_reply_readlink(req, t->c_str());
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  Fs& fs = counted(req, Fs::kOther);
  if (S_ISREG(mode)) return reply_entry(req, fs.client->create(fs.ns, parent, name, mode & 07777, true, caller_of(req)));
  reply_status(req, fs.client->mknod(fs.ns, caller_of(req)));
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Fs& fs = counted(req, Fs::kOther);
  reply_entry(req, fs.client->mkdir(fs.ns, parent, name, mode & 07777, caller_of(req)));
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs& fs = counted(req, Fs::kOther);
  reply_status(req, fs.client->unlink(fs.ns, parent, name, caller_of(req)));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Fs& fs = counted(req, Fs::kOther);
  reply_status(req, fs.client->rmdir(fs.ns, parent, name, caller_of(req)));
}

void op_symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  Fs& fs = counted(req, Fs::kOther);
  reply_entry(req, fs.client->symlink(fs.ns, parent, name, target, caller_of(req)));
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name,
               unsigned int flags) {
  Fs& fs = counted(req, Fs::kOther);
  Caller who = caller_of(req);
  if (flags & RENAME_EXCHANGE) return (void)fuse_reply_err(req, EINVAL);
  reply_status(req, fs.client->rename(fs.ns, parent, name, new_parent, new_name, who, flags & RENAME_NOREPLACE));
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  Fs& fs = counted(req, Fs::kOther);
  reply_entry(req, fs.client->link(fs.ns, ino, new_parent, new_name, caller_of(req)));
}

void opened(Fs& fs, InodeId ino, const FileVersion& v, fuse_file_info* fi, Caller who) {
  fi->keep_cache = unchanged(fs, ino, v);
  fi->fh = reinterpret_cast<uint64_t>(new OpenFile{std::move(who)});
}

// An open within the attribute timeout of what the server last said of the
// file is answered here: the kernel has checked the permissions against those
// attributes (default_permissions), and a change made elsewhere is seen after
// the attribute timeout, as docs/mount.md says. Later opens, and opens that
// truncate, ask the server.
void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kOpen);
  Caller who = caller_of(req);
  if (!(fi->flags & O_TRUNC)) {
    if (auto v = fresh_version(fs, ino)) {
      opened(fs, ino, *v, fi, std::move(who));
      if (fuse_reply_open(req, fi) == -ENOENT) delete reinterpret_cast<OpenFile*>(fi->fh);
      return;
    }
  }
  auto a = fs.client->open(fs.ns, ino, static_cast<uint32_t>(fi->flags), who);
  if (!a) return reply_status(req, a.status());
  note(fs, *a);
  opened(fs, ino, version_of(*a), fi, std::move(who));
  if (fuse_reply_open(req, fi) == -ENOENT) delete reinterpret_cast<OpenFile*>(fi->fh);  // interrupted
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kCreate);
  Caller who = caller_of(req);
  auto a = fs.client->create(fs.ns, parent, name, mode & 07777, fi->flags & O_EXCL, who);
  if (a && (fi->flags & O_TRUNC) && a->size > 0) {
    gateway::SetAttrRequest r;
    r.size = 0;
    a = fs.client->setattr(fs.ns, a->ino, r, who);
  }
  if (!a) return reply_status(req, a.status());
  note(fs, *a);
  opened(fs, a->ino, version_of(*a), fi, std::move(who));
  fuse_entry_param e = entry_of(fs, *a);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) delete reinterpret_cast<OpenFile*>(fi->fh);
}

const Caller& opener(fuse_file_info* fi) { return reinterpret_cast<OpenFile*>(fi->fh)->who; }

// Block `index` of the file as of `v`, from the cache or the server (and then
// cached when it is whole).
Result<Block> block_of(Fs& fs, InodeId ino, uint64_t index, const FileVersion& v, const Caller& who) {
  BlockKey key{fs.ns, ino, index};
  if (Block b = fs.cache->get(key, v)) return b;
  KISEKI_ASSIGN_OR_RETURN(std::string data, fs.client->read(fs.ns, ino, index * kBlockSize, kBlockSize, who));
  fs.vouched_ns.store(now_ns(), std::memory_order_relaxed);
  auto b = std::make_shared<const std::string>(std::move(data));
  if (v.size > index * kBlockSize && b->size() == std::min(kBlockSize, v.size - index * kBlockSize))
    fs.cache->put(key, v, b);
  return Block(b);
}

// Reads through the client cache whole blocks of the version the file had
// when opened (close-to-open, as without the cache).
void cached_read(fuse_req_t req, Fs& fs, InodeId ino, uint64_t off, size_t size, const Caller& who) {
  if (now_ns() - fs.vouched_ns.load(std::memory_order_relaxed) > kVouchIntervalNs) {
    auto a = fs.client->getattr(fs.ns, ino);
    if (!a) return reply_status(req, a.status());
    fs.vouched_ns.store(now_ns(), std::memory_order_relaxed);
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

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  counted(req, Fs::kRelease);
  delete reinterpret_cast<OpenFile*>(fi->fh);
  fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kFsync);
  reply_status(req, fs.client->fsync(fs.ns, ino, opener(fi)));
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Fs& fs = counted(req, Fs::kOpen);
  auto a = fs.client->open(fs.ns, ino, O_RDONLY, caller_of(req));
  if (!a) return reply_status(req, a.status());
  if (a->type != FileType::kDirectory) return (void)fuse_reply_err(req, ENOTDIR);
  fuse_reply_open(req, fi);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  Fs& fs = counted(req, Fs::kReaddir);
  Caller who = caller_of(req);
  std::string buf(size, '\0');
  size_t used = 0;
  auto add = [&](const char* name, const fuse_entry_param& p, off_t next) {
    size_t n = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &p, next);
    if (n > size - used) return false;  // the kernel asks again from the last offset it got
    used += n;
    return true;
  };
  // Offsets 1 and 2 follow "." and ".." (the server's cookies start at 3).
  if (off < 2) {
    auto dir = fs.client->getattr(fs.ns, ino);
    if (!dir) return reply_status(req, dir.status());
    fuse_entry_param dot{};
    dot.attr = to_stat(fs, *dir);
    if (off == 0 && !add(".", dot, 1)) return (void)fuse_reply_buf(req, buf.data(), used);
    dot.attr.st_ino = dir->parent;
    if (!add("..", dot, 2)) return (void)fuse_reply_buf(req, buf.data(), used);
  }
  // About 100 bytes of buffer per entry: ask for what fits.
  uint32_t max = static_cast<uint32_t>(std::clamp<size_t>(size / 96, 1, 4096));
  auto entries = fs.client->readdirplus(fs.ns, ino, off <= 2 ? 0 : static_cast<uint64_t>(off), max, who);
  if (!entries) return reply_status(req, entries.status());
  for (const auto& e : *entries) {
    if (!add(e.entry.name.c_str(), entry_of(fs, e.attr), static_cast<off_t>(e.entry.cookie))) break;
    note(fs, e.attr);
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  counted(req, Fs::kRelease);
  fuse_reply_err(req, 0);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  Fs& fs = counted(req, Fs::kOther);
  auto s = fs.client->statfs(fs.ns, caller_of(req));
  if (!s) return reply_status(req, s.status());
  struct statvfs v{};
  v.f_bsize = 4096;
  v.f_frsize = 4096;
  v.f_blocks = s->total_bytes / 4096;
  v.f_bfree = s->free_bytes / 4096;
  v.f_bavail = s->avail_bytes / 4096;
  v.f_files = s->total_files;
  v.f_ffree = s->free_files;
  v.f_favail = s->free_files;
  v.f_namemax = 255;
  fuse_reply_statfs(req, &v);
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.symlink = op_symlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.statfs = op_statfs;
  ops.create = op_create;
  ops.ioctl = op_ioctl;
  return ops;
}

// The client of a served mount: made after fuse_daemonize, whose fork would
// leave the connections' threads behind.
Result<std::unique_ptr<Client>> connect(const MountTarget& t, NamespaceId* ns) {
  KISEKI_ASSIGN_OR_RETURN(auto c, Client::connect(t.client));
  KISEKI_ASSIGN_OR_RETURN(client::Mounted m, c->mount(t.ns_name));
  *ns = m.ns;
  return c;
}

}  // namespace

int run_mount(const MountTarget& target, const MountOptions& opts, bool foreground) {
  Fs fs;
  fs.opts = opts;
  MountTarget t = target;
  t.client.on_refused = [&fs](const Status& st) { fs.wipe(st); };
  {
    // Fail here, on the terminal, for a wrong key or namespace.
    NamespaceId ns = 0;
    auto probe = connect(t, &ns);
    if (!probe) {
      std::fprintf(stderr, "kiseki mount: %s\n", probe.status().message().c_str());
      return 1;
    }
    fs.ns = ns;
    if (opts.cache.mode != client::CacheMode::kBypass) {
      auto cache = BlockCache::open(opts.cache);  // a cache_dir that will not do fails here too
      if (!cache) {
        std::fprintf(stderr, "kiseki mount: %s\n", cache.status().message().c_str());
        return 1;
      }
    }
  }
  std::vector<std::string> argv_s = {"kiseki", "-o",
                                     "fsname=" + t.fsname + ",subtype=kiseki,default_permissions,max_read=" +
                                         std::to_string(native::kMaxIo)};
  if (opts.allow_other) argv_s.back() += ",allow_other";
  if (opts.read_only) argv_s.back() += ",ro";
  if (opts.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops = make_ops();
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
  if (!se) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, t.mountpoint.c_str()) == 0) {
      fuse_daemonize(foreground ? 1 : 0);
      auto c = connect(t, &fs.ns);
      if (c && opts.cache.mode != client::CacheMode::kBypass) {
        auto cache = BlockCache::open(opts.cache);  // after the fork: its lock is this process's
        if (!cache) c = cache.status();
        else fs.cache = std::move(*cache);
      }
      if (!c) {
        std::fprintf(stderr, "kiseki mount: %s\n", c.status().message().c_str());
      } else {
        fs.client = std::move(*c);
        fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
        rc = fuse_session_loop_mt(se, cfg) == 0 ? 0 : 1;
        fuse_loop_cfg_destroy(cfg);
        fs.cache.reset();  // a disconnect wipes the cache
      }
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return rc;
}

}  // namespace kiseki::mount
