// The environment every store runs in: its clock and its file operations.
// Kiseki's own file I/O (segment files, key files, atomic writes) goes through
// these calls, and RocksDB runs on a rocksdb::FileSystem built from the same Env
// (meta/env_fs.h), so one test Env can fail reads, writes or syncs anywhere
// below the Gateway and move time by hand.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace kiseki {

// kSync: fsync/fdatasync of a file; kSyncDir: fsync of a directory (its
// entries); kRename: the path is the destination (check_rename names both).
enum class FileOp : uint8_t { kOpen, kRead, kWrite, kSync, kRemove, kSyncDir, kRename };

class Env {
 public:
  virtual ~Env() = default;
  virtual const Clock& clock() const { return SystemClock::instance(); }
  // Asked before each file operation, Kiseki's and RocksDB's: a non-ok answer
  // is returned to the caller instead of doing it (fault injection).
  virtual Status check(FileOp op, std::string_view path) const {
    (void)op;
    (void)path;
    return Status::ok();
  }
  // Asked before a rename of `from` over `to`, Kiseki's and RocksDB's.
  virtual Status check_rename(std::string_view from, std::string_view to) const {
    (void)from;
    return check(FileOp::kRename, to);
  }

  // POSIX calls with the check in front; errors as Status.
  Result<int> open(const std::string& path, int flags, int mode = 0600) const;
  Result<size_t> preadv(int fd, std::string_view path, const iovec* iov, int n, uint64_t offset) const;
  Result<size_t> pwritev(int fd, std::string_view path, const iovec* iov, int n, uint64_t offset) const;
  Status fdatasync(int fd, std::string_view path) const;
  Status unlink(const std::string& path) const;
  Status rename(const std::string& from, const std::string& to) const;
  // Bytes free to an unprivileged writer on the file system of `path`.
  virtual Result<uint64_t> free_bytes(const std::string& path) const;
  Status fsync_dir(const std::string& dir) const;

  // The process's real environment: the system clock, no faults.
  static Env& posix();
};

}  // namespace kiseki
