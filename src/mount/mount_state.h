// What the FUSE operations of a kiseki mount share: the mounted namespace, what
// the kernel was last told of each file, and the replies. fuse_fs.cc holds the
// operations on names and attributes and the mount itself, fuse_data.cc the
// reads, writes and ioctls over the client cache.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse3/fuse_lowlevel.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "client/cache/block_cache.h"
#include "client/client.h"
#include "mount/mount_options.h"

namespace kiseki::mount::detail {

using client::Block;
using client::BlockCache;
using client::BlockKey;
using client::Client;
using client::FileVersion;
using client::kBlockSize;
using gateway::Caller;
using gateway::FileAttr;
using gateway::FileType;

// Reads served from the cache alone ask the server about the file at least
// this often, so that a shredded tenant's data stops being served.
constexpr int64_t kVouchIntervalNs = 1000000000;

// One mounted namespace: the client, its cache and what the kernel was last told.
struct Fs {
  std::unique_ptr<Client> client;
  NamespaceId ns = 0;
  MountOptions opts;
  std::unique_ptr<BlockCache> cache;  // none with cache=bypass
  std::atomic<int64_t> vouched_ns{0};  // the server last answered a read then (steady ns)
  std::mutex mu;  // guards seen, fresh
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

inline Fs* fs_of(fuse_req_t req) { return static_cast<Fs*>(fuse_req_userdata(req)); }
inline FileVersion version_of(const FileAttr& a) { return FileVersion{a.mtime_ns, a.size}; }

int64_t now_ns();     // CLOCK_REALTIME
int64_t steady_ns();  // CLOCK_MONOTONIC
// The mount of a request, its kind counted.
Fs& counted(fuse_req_t req, Fs::Kind kind, uint64_t bytes = 0);
Caller caller_of(fuse_req_t req);
// An error reply (a shredded tenant's also wipes the cache), or 0.
void reply_status(fuse_req_t req, const Status& st);
struct stat to_stat(const Fs& fs, const FileAttr& a);
fuse_entry_param entry_of(const Fs& fs, const FileAttr& a);
void reply_entry(fuse_req_t req, const Result<FileAttr>& a);
void reply_attr(fuse_req_t req, const Result<FileAttr>& a);
// What the server just said of a file (its fresh version).
void note(Fs& fs, const FileAttr& a);
// Whether the kernel may keep its cached pages of the file opened at `v`.
bool unchanged(Fs& fs, InodeId ino, const FileVersion& v);
// After our own change of the file: its cached blocks are of an older version.
void remember(Fs& fs, const FileAttr& a);
// The file's version if the server gave it within the attribute timeout.
std::optional<FileVersion> fresh_version(Fs& fs, InodeId ino);
// The version the file was opened at (or last written by us).
FileVersion opened_version(Fs& fs, InodeId ino);
const Caller& opener(fuse_file_info* fi);

// fuse_data.cc
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi);
void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void* arg, fuse_file_info* fi, unsigned flags,
              const void* in_buf, size_t in_bufsz, size_t out_bufsz);

}  // namespace kiseki::mount::detail
