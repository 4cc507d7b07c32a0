#include "common/env.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

namespace kiseki {

Env& Env::posix() {
  static Env env;
  return env;
}

Result<int> Env::open(const std::string& path, int flags, int mode) const {
  KISEKI_TRY(check(FileOp::kOpen, path));
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("open " + path, errno);
  return fd;
}

Result<size_t> Env::preadv(int fd, std::string_view path, const iovec* iov, int n, uint64_t offset) const {
  KISEKI_TRY(check(FileOp::kRead, path));
  ssize_t r = ::preadv(fd, iov, n, static_cast<off_t>(offset));
  if (r < 0) return errno_status("read " + std::string(path), errno);
  return static_cast<size_t>(r);
}

Result<size_t> Env::pwritev(int fd, std::string_view path, const iovec* iov, int n, uint64_t offset) const {
  KISEKI_TRY(check(FileOp::kWrite, path));
  ssize_t r = ::pwritev(fd, iov, n, static_cast<off_t>(offset));
  if (r < 0) return errno_status("write " + std::string(path), errno);
  return static_cast<size_t>(r);
}

Status Env::fdatasync(int fd, std::string_view path) const {
  KISEKI_TRY(check(FileOp::kSync, path));
  if (::fdatasync(fd) != 0) return errno_status("fdatasync " + std::string(path), errno);
  return Status::ok();
}

Status Env::unlink(const std::string& path) const {
  KISEKI_TRY(check(FileOp::kRemove, path));
  if (::unlink(path.c_str()) != 0) return errno_status("unlink " + path, errno);
  return Status::ok();
}

Status Env::rename(const std::string& from, const std::string& to) const {
  KISEKI_TRY(check_rename(from, to));
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename " + from + " to " + to, errno);
  return Status::ok();
}

Result<uint64_t> Env::free_bytes(const std::string& path) const {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return errno_status("statvfs " + path, errno);
  return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
}

Status Env::fsync_dir(const std::string& dir) const {
  KISEKI_TRY(check(FileOp::kSyncDir, dir));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open dir " + dir, errno);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  return rc == 0 ? Status::ok() : errno_status("fsync dir " + dir, e);
}

}  // namespace kiseki
