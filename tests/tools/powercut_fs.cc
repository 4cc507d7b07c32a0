// kiseki-powercut-fs: a FUSE file system over a backing directory that can
// lose, on command, everything a power cut would: what was written to a file
// since its last fsync/fdatasync, the directory entries made since their
// directory's last fsync (and brings back entries replaced or removed since),
// optionally tearing the last write. Crash tests run a real kiseki-server on
// it, kill it with SIGKILL, cut the power and start it again.
//
//   kiseki-powercut-fs BACKING_DIR MOUNTPOINT [-f] [-o ...]
//   echo cut > MOUNTPOINT/.powercut        # or "cut tear"; only once nothing has files open
//   cat MOUNTPOINT/.powercut               # what the last cut dropped
//
// It runs single-threaded and keeps the kernel's caches off (direct I/O, no
// attribute or entry caching), so every write and sync reaches it. What a cut
// keeps: tests/support/power_cut_model.h.
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/power_cut_model.h"

namespace {

namespace fs = std::filesystem;
using kiseki::testing::PowerCutModel;

constexpr const char* kControl = "/.powercut";

struct State {
  std::string backing;
  std::unique_ptr<PowerCutModel> model;
  uint64_t cuts = 0;
  std::string report = "no cut yet\n";
} g;

std::string real(const char* path) { return g.backing + path; }
int err(int r) { return r < 0 ? -errno : r; }

void cut(bool tear) {
  auto r = g.model->cut(tear, ++g.cuts * 7919);
  g.report = "cut " + std::to_string(g.cuts) + ": " + r.to_string() + "\n";
  std::fputs(g.report.c_str(), stderr);
}

void* op_init(fuse_conn_info*, fuse_config* cfg) {
  cfg->use_ino = 0;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->hard_remove = 1;
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info*) {
  if (std::strcmp(path, kControl) == 0) {
    std::memset(st, 0, sizeof(*st));
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(g.report.size());
    return 0;
  }
  return err(::lstat(real(path).c_str(), st));
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info*, fuse_readdir_flags) {
  DIR* d = ::opendir(real(path).c_str());
  if (!d) return -errno;
  while (dirent* e = ::readdir(d)) fill(buf, e->d_name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  ::closedir(d);
  return 0;
}

int op_mkdir(const char* path, mode_t mode) { return err(::mkdir(real(path).c_str(), mode)); }
int op_rmdir(const char* path) { return err(::rmdir(real(path).c_str())); }

int op_unlink(const char* path) {
  g.model->before_remove(real(path));
  return err(::unlink(real(path).c_str()));
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  g.model->before_rename(real(from), real(to));
  return err(::rename(real(from).c_str(), real(to).c_str()));
}

int op_link(const char* from, const char* to) { return err(::link(real(from).c_str(), real(to).c_str())); }
int op_chmod(const char* path, mode_t mode, fuse_file_info*) { return err(::chmod(real(path).c_str(), mode)); }
int op_utimens(const char* path, const timespec tv[2], fuse_file_info*) {
  return err(::utimensat(AT_FDCWD, real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  int r = fi ? err(::ftruncate(static_cast<int>(fi->fh), size)) : err(::truncate(real(path).c_str(), size));
  if (r == 0) g.model->truncated(real(path), static_cast<uint64_t>(size));
  return r;
}

int op_open(const char* path, fuse_file_info* fi) {
  if (std::strcmp(path, kControl) == 0) {
    fi->fh = UINT64_MAX;
    fi->direct_io = 1;
    return 0;
  }
  int fd = ::open(real(path).c_str(), fi->flags & ~O_DIRECT);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  fi->direct_io = 1;
  if (fi->flags & O_TRUNC) g.model->truncated(real(path), 0);
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), (fi->flags & ~O_DIRECT) | O_CREAT, mode);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  fi->direct_io = 1;
  if (fi->flags & O_TRUNC) g.model->truncated(real(path), 0);
  return 0;
}

int op_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  if (fi->fh == UINT64_MAX) {
    if (static_cast<size_t>(off) >= g.report.size()) return 0;
    size_t n = std::min(size, g.report.size() - static_cast<size_t>(off));
    std::memcpy(buf, g.report.data() + off, n);
    return static_cast<int>(n);
  }
  (void)path;
  ssize_t n = ::pread(static_cast<int>(fi->fh), buf, size, off);
  return n < 0 ? -errno : static_cast<int>(n);
}

int op_write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  if (fi->fh == UINT64_MAX) {
    std::string cmd(buf, size);
    if (cmd.rfind("cut", 0) != 0) return -EINVAL;
    cut(cmd.find("tear") != std::string::npos);
    return static_cast<int>(size);
  }
  g.model->before_write(real(path), static_cast<uint64_t>(off));
  ssize_t n = ::pwrite(static_cast<int>(fi->fh), buf, size, off);
  if (n > 0) g.model->wrote(static_cast<uint64_t>(off) + static_cast<uint64_t>(n));
  return n < 0 ? -errno : static_cast<int>(n);
}

int op_statfs(const char*, struct statvfs* st) { return err(::statvfs(g.backing.c_str(), st)); }

int op_release(const char*, fuse_file_info* fi) {
  if (fi->fh != UINT64_MAX) ::close(static_cast<int>(fi->fh));
  return 0;
}

int op_fsync(const char* path, int datasync, fuse_file_info* fi) {
  if (fi->fh == UINT64_MAX) return 0;
  g.model->before_sync(real(path));
  int r = datasync ? ::fdatasync(static_cast<int>(fi->fh)) : ::fsync(static_cast<int>(fi->fh));
  return r != 0 ? -errno : 0;
}

int op_fsyncdir(const char* path, int, fuse_file_info*) {
  g.model->before_sync_dir(PowerCutModel::normal(real(path)));
  return 0;
}

int op_fallocate(const char*, int mode, off_t off, off_t len, fuse_file_info* fi) {
  return err(::fallocate(static_cast<int>(fi->fh), mode, off, len));
}

int op_access(const char* path, int mask) {
  if (std::strcmp(path, kControl) == 0) return 0;
  return err(::access(real(path).c_str(), mask));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT [-f] [-o ...]\n", argv[0]);
    return 2;
  }
  g.backing = PowerCutModel::normal(fs::absolute(argv[1]).string());
  g.model = std::make_unique<PowerCutModel>(g.backing, g.backing + ".powercut-saved");
  g.model->baseline();
  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.mkdir = op_mkdir;
  ops.rmdir = op_rmdir;
  ops.unlink = op_unlink;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.chmod = op_chmod;
  ops.utimens = op_utimens;
  ops.truncate = op_truncate;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.statfs = op_statfs;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.fsyncdir = op_fsyncdir;
  ops.fallocate = op_fallocate;
  ops.access = op_access;
  // Single-threaded: the bookkeeping needs no lock, and a cut sees no request in flight.
  std::vector<char*> args = {argv[0], argv[2], const_cast<char*>("-s")};
  for (int i = 3; i < argc; ++i) args.push_back(argv[i]);
  return fuse_main(static_cast<int>(args.size()), args.data(), &ops, nullptr);
}
