#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace kiseki {

Result<std::string> read_file(const std::string& path, const Env& env) {
  KISEKI_TRY(env.check(FileOp::kRead, path));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return errno_status("read " + path, e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status fsync_dir(const std::string& dir, const Env& env) { return env.fsync_dir(dir); }

Status write_file_atomic(const std::string& path, std::string_view data, int mode, const Env& env) {
  std::string tmp = path + ".tmp";
  KISEKI_TRY(env.check(FileOp::kWrite, tmp));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("create " + tmp, errno);
  ::fchmod(fd, static_cast<mode_t>(mode));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return errno_status("write " + tmp, e);
    }
    off += static_cast<size_t>(n);
  }
  if (Status st = env.check(FileOp::kSync, tmp); !st.is_ok()) {
    ::close(fd);
    return st;
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return errno_status("fsync " + tmp, e);
  }
  ::close(fd);
  KISEKI_TRY(env.rename(tmp, path));
  return env.fsync_dir(std::filesystem::path(path).parent_path().string());
}

Status make_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("mkdir " + dir + ": " + ec.message());
  return Status::ok();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<uint64_t> copy_file(const std::string& from, const std::string& to, uint64_t max_bytes, int mode) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_status("open " + from, errno);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return errno_status("create " + to, e);
  }
  auto fail = [&](const std::string& what, int e) {
    ::close(in);
    ::close(out);
    return errno_status(what, e);
  };
  std::string buf(1 << 20, '\0');
  uint64_t copied = 0;
  while (copied < max_bytes) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), max_bytes - copied));
    ssize_t n = ::read(in, buf.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("read " + from, errno);
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail("write " + to, errno);
      off += w;
    }
    copied += static_cast<uint64_t>(n);
  }
  if (::fsync(out) != 0) return fail("fsync " + to, errno);
  ::close(in);
  ::close(out);
  return copied;
}

}  // namespace kiseki
