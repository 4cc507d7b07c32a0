#include "mount/fuse_fs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "mount/mount_state.h"

namespace kiseki::mount {

namespace {

using namespace detail;

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
  if (to_set & FUSE_SET_ATTR_SIZE) {
    r.size = static_cast<uint64_t>(attr->st_size);
    r.stable = false;  // as a write: durable at the next fsync
  }
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
    r.stable = false;
    a = fs.client->setattr(fs.ns, a->ino, r, who);
  }
  if (!a) return reply_status(req, a.status());
  note(fs, *a);
  opened(fs, a->ino, version_of(*a), fi, std::move(who));
  fuse_entry_param e = entry_of(fs, *a);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) delete reinterpret_cast<OpenFile*>(fi->fh);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  counted(req, Fs::kRelease);
  delete reinterpret_cast<OpenFile*>(fi->fh);
  fuse_reply_err(req, 0);
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
