// kiseki-nfs-fuse: mounts an NFSv3 export through FUSE, speaking NFS with
// libnfs, so that file-system exercisers (fsx-style tests, fio --verify) run
// against the NFS server without a kernel NFS client.
//
//   kiseki-nfs-fuse 'nfs://127.0.0.1/tenant/ns?nfsport=P&mountport=P&version=3' MOUNTPOINT [-f] [-o ...]
//
// One libnfs context serves every FUSE request (libnfs contexts are not
// thread-safe), and the kernel's caches are off, so every read and write
// reaches the server.
#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <nfsc/libnfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

nfs_context* g_nfs = nullptr;
std::mutex g_mu;

int rc(int r) { return r < 0 ? r : 0; }  // libnfs returns -errno

void fill_stat(const nfs_stat_64& s, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = s.nfs_ino;
  st->st_mode = static_cast<mode_t>(s.nfs_mode);
  st->st_nlink = s.nfs_nlink;
  st->st_uid = static_cast<uid_t>(s.nfs_uid);
  st->st_gid = static_cast<gid_t>(s.nfs_gid);
  st->st_size = static_cast<off_t>(s.nfs_size);
  st->st_blksize = 65536;
  st->st_blocks = static_cast<blkcnt_t>((s.nfs_used + 511) / 512);
  st->st_atim = {static_cast<time_t>(s.nfs_atime), static_cast<long>(s.nfs_atime_nsec)};
  st->st_mtim = {static_cast<time_t>(s.nfs_mtime), static_cast<long>(s.nfs_mtime_nsec)};
  st->st_ctim = {static_cast<time_t>(s.nfs_ctime), static_cast<long>(s.nfs_ctime_nsec)};
}

void* op_init(fuse_conn_info*, fuse_config* cfg) {
  cfg->direct_io = 1;  // every read and write goes to the server
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->use_ino = 1;
  return nullptr;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info*) {
  std::lock_guard l(g_mu);
  nfs_stat_64 s{};
  int r = nfs_lstat64(g_nfs, path, &s);
  if (r < 0) return r;
  fill_stat(s, st);
  return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*, fuse_readdir_flags) {
  std::lock_guard l(g_mu);
  nfsdir* d = nullptr;
  int r = nfs_opendir(g_nfs, path, &d);
  if (r < 0) return r;
  while (nfsdirent* e = nfs_readdir(g_nfs, d)) filler(buf, e->name, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  nfs_closedir(g_nfs, d);
  return 0;
}

int op_mkdir(const char* path, mode_t mode) {
  std::lock_guard l(g_mu);
  return rc(nfs_mkdir2(g_nfs, path, static_cast<int>(mode)));
}
int op_rmdir(const char* path) {
  std::lock_guard l(g_mu);
  return rc(nfs_rmdir(g_nfs, path));
}
int op_unlink(const char* path) {
  std::lock_guard l(g_mu);
  return rc(nfs_unlink(g_nfs, path));
}
int op_rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;  // NFSv3 has no RENAME_NOREPLACE / EXCHANGE
  std::lock_guard l(g_mu);
  return rc(nfs_rename(g_nfs, from, to));
}
int op_symlink(const char* target, const char* path) {
  std::lock_guard l(g_mu);
  return rc(nfs_symlink(g_nfs, target, path));
}
int op_readlink(const char* path, char* buf, size_t size) {
  std::lock_guard l(g_mu);
  std::memset(buf, 0, size);
  int r = nfs_readlink(g_nfs, path, buf, static_cast<int>(size - 1));
  return rc(r);
}
int op_link(const char* from, const char* to) {
  std::lock_guard l(g_mu);
  return rc(nfs_link(g_nfs, from, to));
}
int op_chmod(const char* path, mode_t mode, fuse_file_info*) {
  std::lock_guard l(g_mu);
  return rc(nfs_chmod(g_nfs, path, static_cast<int>(mode)));
}
int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info*) {
  std::lock_guard l(g_mu);
  nfs_stat_64 s{};
  int r = nfs_lstat64(g_nfs, path, &s);
  if (r < 0) return r;
  int u = uid == static_cast<uid_t>(-1) ? static_cast<int>(s.nfs_uid) : static_cast<int>(uid);
  int g = gid == static_cast<gid_t>(-1) ? static_cast<int>(s.nfs_gid) : static_cast<int>(gid);
  return rc(nfs_lchown(g_nfs, path, u, g));
}
int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  if (fi && fi->fh) return rc(nfs_ftruncate(g_nfs, reinterpret_cast<nfsfh*>(fi->fh), static_cast<uint64_t>(size)));
  return rc(nfs_truncate(g_nfs, path, static_cast<uint64_t>(size)));
}
int op_utimens(const char* path, const struct timespec tv[2], fuse_file_info*) {
  std::lock_guard l(g_mu);
  timeval t[2];
  nfs_stat_64 s{};
  bool need_stat = !tv || tv[0].tv_nsec == UTIME_OMIT || tv[1].tv_nsec == UTIME_OMIT;
  if (need_stat && tv) {
    int r = nfs_lstat64(g_nfs, path, &s);
    if (r < 0) return r;
  }
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  for (int i = 0; i < 2; ++i) {
    timespec x = tv ? tv[i] : now;
    if (x.tv_nsec == UTIME_NOW) x = now;
    if (x.tv_nsec == UTIME_OMIT) {
      x.tv_sec = static_cast<time_t>(i == 0 ? s.nfs_atime : s.nfs_mtime);
      x.tv_nsec = static_cast<long>(i == 0 ? s.nfs_atime_nsec : s.nfs_mtime_nsec);
    }
    t[i] = {x.tv_sec, x.tv_nsec / 1000};
  }
  return rc(nfs_lutimes(g_nfs, path, t));
}
int op_open(const char* path, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  nfsfh* fh = nullptr;
  int r = nfs_open(g_nfs, path, fi->flags & ~(O_CREAT | O_EXCL), &fh);
  if (r < 0) return r;
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->direct_io = 1;
  return 0;
}
int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  nfsfh* fh = nullptr;
  int r = nfs_create(g_nfs, path, fi->flags, static_cast<int>(mode & 07777), &fh);
  if (r < 0) return r;
  fi->fh = reinterpret_cast<uint64_t>(fh);
  fi->direct_io = 1;
  return 0;
}
int op_read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  auto* fh = reinterpret_cast<nfsfh*>(fi->fh);
  size_t done = 0;
  while (done < size) {  // libnfs may return short reads of its own max size
    int r = nfs_pread(g_nfs, fh, static_cast<uint64_t>(off) + done, size - done, buf + done);
    if (r < 0) return r;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<int>(done);
}
int op_write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  auto* fh = reinterpret_cast<nfsfh*>(fi->fh);
  size_t done = 0;
  while (done < size) {
    int r = nfs_pwrite(g_nfs, fh, static_cast<uint64_t>(off) + done, size - done, buf + done);
    if (r < 0) return r;
    if (r == 0) return -EIO;
    done += static_cast<size_t>(r);
  }
  return static_cast<int>(done);
}
int op_fsync(const char*, int, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  return rc(nfs_fsync(g_nfs, reinterpret_cast<nfsfh*>(fi->fh)));
}
int op_release(const char*, fuse_file_info* fi) {
  std::lock_guard l(g_mu);
  return rc(nfs_close(g_nfs, reinterpret_cast<nfsfh*>(fi->fh)));
}
int op_statfs(const char* path, struct statvfs* st) {
  std::lock_guard l(g_mu);
  nfs_statvfs_64 s{};
  int r = nfs_statvfs64(g_nfs, path, &s);
  if (r < 0) return r;
  std::memset(st, 0, sizeof(*st));
  st->f_bsize = s.f_bsize;
  st->f_frsize = s.f_frsize;
  st->f_blocks = s.f_blocks;
  st->f_bfree = s.f_bfree;
  st->f_bavail = s.f_bavail;
  st->f_files = s.f_files;
  st->f_ffree = s.f_ffree;
  st->f_favail = s.f_favail;
  st->f_namemax = s.f_namemax;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s NFS-URL MOUNTPOINT [fuse options]\n", argv[0]);
    return 2;
  }
  g_nfs = nfs_init_context();
  if (!g_nfs) return 1;
  nfs_url* url = nfs_parse_url_dir(g_nfs, argv[1]);
  if (!url) {
    std::fprintf(stderr, "bad URL %s: %s\n", argv[1], nfs_get_error(g_nfs));
    return 2;
  }
  if (nfs_mount(g_nfs, url->server, url->path) != 0) {
    std::fprintf(stderr, "mount %s: %s\n", argv[1], nfs_get_error(g_nfs));
    return 1;
  }
  nfs_destroy_url(url);
  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.mkdir = op_mkdir;
  ops.rmdir = op_rmdir;
  ops.unlink = op_unlink;
  ops.rename = op_rename;
  ops.symlink = op_symlink;
  ops.readlink = op_readlink;
  ops.link = op_link;
  ops.chmod = op_chmod;
  ops.chown = op_chown;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.fsync = op_fsync;
  ops.release = op_release;
  ops.statfs = op_statfs;
  std::vector<char*> args = {argv[0]};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  int r = fuse_main(static_cast<int>(args.size()), args.data(), &ops, nullptr);
  nfs_destroy_context(g_nfs);
  return r;
}
