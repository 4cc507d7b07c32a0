#include "mount/mount_state.h"

#include <sys/stat.h>

#include <ctime>

#include "client/errno.h"

namespace kiseki::mount::detail {

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
static constexpr size_t kMaxFresh = 1 << 18;

// The mount of a request, its kind counted.
Fs& counted(fuse_req_t req, Fs::Kind kind, uint64_t bytes) {
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

static timespec ts(int64_t ns) { return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)}; }

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

const Caller& opener(fuse_file_info* fi) { return reinterpret_cast<OpenFile*>(fi->fh)->who; }

}  // namespace kiseki::mount::detail
