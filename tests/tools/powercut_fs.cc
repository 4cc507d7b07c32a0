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
// attribute or entry caching), so every write and sync reaches it. Files are
// modelled as append-only, as Kiseki and RocksDB write them: an overwrite in
// place of synced bytes is not undone.
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
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr const char* kControl = "/.powercut";

struct Saved {
  std::string path, copy;
  uint64_t synced = 0;
};

struct State {
  std::string backing, save_dir;
  std::map<std::string, uint64_t> synced;               // path → bytes durable
  std::map<std::string, std::set<std::string>> entries;  // directory → names durable
  std::vector<Saved> saved;
  std::string last_written;
  uint64_t last_write_at = 0;
  uint64_t saves = 0, cuts = 0;
  std::string report = "no cut yet\n";
} g;

std::string real(const char* path) { return g.backing + path; }
std::string parent_of(const std::string& p) {
  auto i = p.rfind('/');
  return i == 0 ? "/" : p.substr(0, i);
}
std::string name_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }
int err(int r) { return r < 0 ? -errno : r; }

uint64_t size_of(const std::string& path) {
  struct stat st;
  return ::stat(real(path.c_str()).c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size)
                                                                              : 0;
}

void snapshot_dir(const std::string& dir) {
  auto& names = g.entries[dir];
  names.clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(real(dir.c_str()), ec)) names.insert(e.path().filename().string());
}

// Everything in the backing directory is durable now.
void baseline() {
  g.synced.clear();
  g.entries.clear();
  g.saved.clear();
  std::error_code ec;
  fs::remove_all(g.save_dir, ec);
  fs::create_directories(g.save_dir, ec);
  snapshot_dir("/");
  for (const auto& e : fs::recursive_directory_iterator(g.backing, ec)) {
    std::string p = "/" + fs::relative(e.path(), g.backing).string();
    if (e.is_directory()) snapshot_dir(p);
    else if (e.is_regular_file()) g.synced[p] = static_cast<uint64_t>(e.file_size());
  }
}

bool durable_entry(const std::string& path) {
  auto it = g.entries.find(parent_of(path));
  return it != g.entries.end() && it->second.count(name_of(path));
}

// A durable entry about to be replaced or removed: kept by a hard link until
// its directory's next sync.
void save(const std::string& path) {
  for (const auto& s : g.saved)
    if (s.path == path) return;
  if (!durable_entry(path)) return;
  struct stat st;
  if (::lstat(real(path.c_str()).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  std::string copy = g.save_dir + "/" + std::to_string(++g.saves);
  if (::link(real(path.c_str()).c_str(), copy.c_str()) != 0) return;
  auto s = g.synced.find(path);
  g.saved.push_back({path, copy, s == g.synced.end() ? 0 : s->second});
}

void cut(bool tear) {
  uint64_t removed = 0, restored = 0, truncated = 0, dropped = 0, torn = 0;
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(g.backing, ec))
    if (e.is_regular_file()) files.push_back("/" + fs::relative(e.path(), g.backing).string());
  for (const auto& f : files) {
    if (durable_entry(f)) continue;
    ::unlink(real(f.c_str()).c_str());
    ++removed;
  }
  for (const auto& s : g.saved)
    if (::rename(s.copy.c_str(), real(s.path.c_str()).c_str()) == 0) {
      g.synced[s.path] = s.synced;
      ++restored;
    }
  g.saved.clear();
  std::mt19937_64 rng(g.cuts * 7919 + 1);
  for (const auto& e : fs::recursive_directory_iterator(g.backing, ec)) {
    if (!e.is_regular_file()) continue;
    std::string f = "/" + fs::relative(e.path(), g.backing).string();
    uint64_t size = static_cast<uint64_t>(e.file_size());
    auto it = g.synced.find(f);
    uint64_t keep = it == g.synced.end() ? 0 : std::min(it->second, size);
    if (keep == size) continue;
    if (tear && f == g.last_written && g.last_write_at == keep) {
      uint64_t extra = rng() % (size - keep);  // a part of the last write, never all of it
      keep += extra;
      torn += extra;
    }
    if (::truncate(e.path().c_str(), static_cast<off_t>(keep)) == 0) {
      ++truncated;
      dropped += size - keep;
    }
  }
  ++g.cuts;
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "cut %llu: %llu entries removed, %llu restored, %llu files cut back by %llu bytes, %llu torn bytes kept\n",
                (unsigned long long)g.cuts, (unsigned long long)removed, (unsigned long long)restored,
                (unsigned long long)truncated, (unsigned long long)dropped, (unsigned long long)torn);
  g.report = buf;
  std::fputs(buf, stderr);
  baseline();
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
  save(path);
  int r = err(::unlink(real(path).c_str()));
  if (r == 0) g.synced.erase(path);
  return r;
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  save(to);
  int r = err(::rename(real(from).c_str(), real(to).c_str()));
  if (r == 0) {
    auto it = g.synced.find(from);
    uint64_t synced = it == g.synced.end() ? 0 : it->second;
    if (it != g.synced.end()) g.synced.erase(it);
    g.synced[to] = synced;
  }
  return r;
}

int op_link(const char* from, const char* to) { return err(::link(real(from).c_str(), real(to).c_str())); }
int op_chmod(const char* path, mode_t mode, fuse_file_info*) { return err(::chmod(real(path).c_str(), mode)); }
int op_utimens(const char* path, const timespec tv[2], fuse_file_info*) {
  return err(::utimensat(AT_FDCWD, real(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  int r = fi ? err(::ftruncate(static_cast<int>(fi->fh), size)) : err(::truncate(real(path).c_str(), size));
  auto it = g.synced.find(path);
  if (r == 0 && it != g.synced.end() && it->second > static_cast<uint64_t>(size)) it->second = size;
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
  if (fi->flags & O_TRUNC) g.synced.erase(path);
  return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fd = ::open(real(path).c_str(), (fi->flags & ~O_DIRECT) | O_CREAT, mode);
  if (fd < 0) return -errno;
  fi->fh = static_cast<uint64_t>(fd);
  fi->direct_io = 1;
  if (fi->flags & O_TRUNC) g.synced.erase(path);
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
  g.last_written = path;
  g.last_write_at = static_cast<uint64_t>(off);
  ssize_t n = ::pwrite(static_cast<int>(fi->fh), buf, size, off);
  return n < 0 ? -errno : static_cast<int>(n);
}

int op_statfs(const char*, struct statvfs* st) { return err(::statvfs(g.backing.c_str(), st)); }

int op_release(const char*, fuse_file_info* fi) {
  if (fi->fh != UINT64_MAX) ::close(static_cast<int>(fi->fh));
  return 0;
}

int op_fsync(const char* path, int datasync, fuse_file_info* fi) {
  if (fi->fh == UINT64_MAX) return 0;
  int r = datasync ? ::fdatasync(static_cast<int>(fi->fh)) : ::fsync(static_cast<int>(fi->fh));
  if (r != 0) return -errno;
  g.synced[path] = size_of(path);
  return 0;
}

int op_fsyncdir(const char* path, int, fuse_file_info*) {
  snapshot_dir(path);
  for (auto it = g.saved.begin(); it != g.saved.end();) {
    if (parent_of(it->path) == path) {
      ::unlink(it->copy.c_str());
      it = g.saved.erase(it);
    } else {
      ++it;
    }
  }
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
  g.backing = fs::absolute(argv[1]).lexically_normal().string();
  while (g.backing.size() > 1 && g.backing.back() == '/') g.backing.pop_back();
  g.save_dir = g.backing + ".powercut-saved";
  baseline();
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
