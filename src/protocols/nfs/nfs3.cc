#include "protocols/nfs/nfs3.h"


#include <chrono>
#include <optional>

#include "crypto/primitives.h"
#include "gateway/permissions.h"
#include "protocols/nfs/errors.h"
#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

using gateway::FileAttr;
using gateway::NsRef;

namespace {

constexpr const char* kProcNames[kNfs3ProcCount] = {
    "NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ", "WRITE",
    "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK",
    "READDIR", "READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"};

constexpr size_t kMaxNameArg = 4096;  // longer than any name we accept: NAMETOOLONG, not garbage
constexpr uint64_t kMaxFileSize = 1ull << 62;
constexpr uint64_t kBytesPerInode = 512;  // metadata cost of one file, for FSSTAT's file counts

uint32_t ftype(gateway::FileType t) {
  switch (t) {
    case gateway::FileType::kFile: return kNf3Reg;
    case gateway::FileType::kDirectory: return kNf3Dir;
    case gateway::FileType::kSymlink: return kNf3Lnk;
  }
  return kNf3Reg;
}

void put_time(XdrEncoder& e, int64_t ns) {
  if (ns < 0) ns = 0;
  e.u32(static_cast<uint32_t>(ns / 1000000000)).u32(static_cast<uint32_t>(ns % 1000000000));
}

void put_fattr(XdrEncoder& e, const FileAttr& a, NamespaceId fsid) {
  e.u32(ftype(a.type));
  e.u32(a.mode & 07777);
  e.u32(a.nlink).u32(a.uid).u32(a.gid);
  e.u64(a.size);
  e.u64((a.size + 4095) & ~uint64_t{4095});  // used
  e.u32(0).u32(0);                          // rdev
  e.u64(fsid);
  e.u64(a.ino);
  put_time(e, a.atime_ns);
  put_time(e, a.mtime_ns);
  put_time(e, a.ctime_ns);
}

void put_post_op(XdrEncoder& e, const std::optional<FileAttr>& a, NamespaceId fsid) {
  e.boolean(a.has_value());
  if (a) put_fattr(e, *a, fsid);
}

void put_pre_op(XdrEncoder& e, const std::optional<FileAttr>& a) {
  e.boolean(a.has_value());
  if (!a) return;
  e.u64(a->size);
  put_time(e, a->mtime_ns);
  put_time(e, a->ctime_ns);
}

struct Sattr {
  gateway::SetAttrRequest req;
  bool empty() const {
    return !req.mode && !req.uid && !req.gid && !req.size && !req.atime_ns && !req.mtime_ns;
  }
};

Sattr get_sattr(XdrDecoder& in, const Clock& clock) {
  Sattr s;
  if (in.boolean()) s.req.mode = in.u32() & 07777;
  if (in.boolean()) s.req.uid = in.u32();
  if (in.boolean()) s.req.gid = in.u32();
  if (in.boolean()) s.req.size = in.u64();
  for (int i = 0; i < 2; ++i) {
    uint32_t how = in.u32();
    std::optional<int64_t> t;
    if (how == 1) {
      t = clock.now_ns();
    } else if (how == 2) {
      int64_t sec = in.u32();
      int64_t nsec = in.u32();
      t = sec * 1000000000 + nsec;
    } else if (how != 0) {
      (void)in.opaque_fixed(in.remaining() + 1);  // an unknown time_how: malformed
    }
    (i == 0 ? s.req.atime_ns : s.req.mtime_ns) = t;
  }
  return s;
}

}  // namespace

// One call: decoded arguments, the caller's credentials and the reply encoder.
class Nfs3Call {
 public:
  Nfs3Call(Nfs3Service& s, const RpcCall& c, std::string* out) : s_(s), c_(c), in_(c.args), out_(out) {}

  AcceptStat run(uint32_t proc, uint32_t* status);

 private:
  struct Obj {
    ExportRef exp;
    FileAttr attr;
    NsRef ns() const { return exp->ns; }
  };

  // ---- handles, credentials, permissions
  uint32_t resolve(std::string_view fh, Obj* o) {
    auto h = s_.handles_->decode(fh);
    if (!h) return kNfs3ErrBadhandle;
    auto e = s_.exports_->find_ns(h->tenant, h->ns);
    if (!e) return kNfs3ErrStale;
    if (!(*e)->opts.allows(c_.client.ip)) return kNfs3ErrAcces;
    auto a = s_.gw_->getattr((*e)->ns, h->ino);
    if (!a) return nfs3_status(a.status());
    if (a->generation != h->generation) return kNfs3ErrStale;
    o->exp = std::move(*e);
    o->attr = *a;
    cred_ = cred_for(*o->exp);
    return kNfs3Ok;
  }
  // Resolves `fh`; on failure writes the status and empty attributes of the
  // reply's shape (post_op_attr, or wcc_data) and returns the status.
  enum class Empty { kPostOp, kWcc };
  uint32_t resolve_or_fail(std::string_view fh, Obj* o, Empty shape) {
    uint32_t st = resolve(fh, o);
    if (st != kNfs3Ok) {
      out_.u32(st);
      if (shape == Empty::kWcc) put_pre_op(out_, std::nullopt);
      put_post_op(out_, std::nullopt, 0);
    }
    return st;
  }
  // Two handles of one call (RENAME, LINK): both must resolve, in one namespace.
  uint32_t resolve_pair(std::string_view fa, Obj* a, std::string_view fb, Obj* b) {
    uint32_t st = resolve(fa, a);
    if (st == kNfs3Ok) st = resolve(fb, b);
    if (st == kNfs3Ok && a->exp->ns.ns != b->exp->ns.ns) st = kNfs3ErrXdev;
    return st;
  }
  // The checks every call that adds or removes a name in `dir` shares.
  uint32_t dir_check(const Obj& dir, std::string_view n) const {
    if (dir.exp->opts.read_only) return kNfs3ErrRofs;
    if (dir.attr.type != gateway::FileType::kDirectory) return kNfs3ErrNotdir;
    if (bad_name(n)) return kNfs3ErrNametoolong;
    return kNfs3Ok;
  }
  // The caller after squashing; calls without AUTH_SYS are nobody.
  gateway::Caller cred_for(const Export& e) const {
    gateway::Caller c{65534, 65534, {}, {}};
    if (c_.hdr.sys) {
      c.uid = c_.hdr.sys->uid;
      c.gid = c_.hdr.sys->gid;
      c.groups = c_.hdr.sys->gids;
    }
    if (e.opts.root_squash && c.uid == 0) {
      c.uid = e.opts.anon_uid;
      c.gid = e.opts.anon_gid;
      c.groups.clear();
    }
    return c;
  }
  bool may(const FileAttr& a, uint32_t want) const { return gateway::may(cred_, a, want); }
  // The caller of a mutation, with the request id that makes a resent call
  // (the same client address, port, xid and procedure) apply once, also after a
  // restart; `part` tells the records of one call apart.
  gateway::Caller mutator(uint32_t proc, uint64_t part = 0) const {
    gateway::Caller w = cred_;
    w.req.client = (uint64_t{0x4e46} << 48) | (uint64_t{c_.client.ip} << 16) | c_.client.port;
    w.req.seq = (part << 62) | (uint64_t{proc} << 32) | c_.hdr.xid;
    return w;
  }
  std::string handle_of(const Obj& o, const FileAttr& a) const {
    return s_.handles_->encode(FileHandle{o.exp->ns.tenant, o.exp->ns.ns, a.ino, a.generation});
  }

  // ---- encoding
  void post_op(const Obj& o, const std::optional<FileAttr>& a) { put_post_op(out_, a, o.exp->ns.ns); }
  std::optional<FileAttr> fresh(const Obj& o, InodeId ino) {
    auto a = s_.gw_->getattr(o.ns(), ino);
    if (!a) return std::nullopt;
    return *a;
  }
  void wcc(const Obj& dir, const std::optional<FileAttr>& pre) {
    put_pre_op(out_, pre);
    post_op(dir, fresh(dir, dir.attr.ino));
  }
  void post_op_fh(const Obj& o, const FileAttr& a) {
    out_.boolean(true);
    out_.opaque(handle_of(o, a));
  }

  std::string_view fh() { return in_.opaque(kNfs3FhMax); }
  std::string_view name() { return in_.string(kMaxNameArg); }
  static bool bad_name(std::string_view n) { return n.size() > kMaxNameLen; }

  // Status only, for failures before any object was resolved.
  uint32_t fail(uint32_t st) {
    out_.u32(st);
    return st;
  }

  uint32_t null() { return kNfs3Ok; }
  uint32_t getattr();
  uint32_t setattr();
  uint32_t lookup();
  uint32_t access();
  uint32_t readlink();
  uint32_t read();
  uint32_t write();
  uint32_t create();
  uint32_t mkdir();
  uint32_t symlink();
  uint32_t mknod();
  uint32_t remove(bool dir);
  uint32_t rename();
  uint32_t link();
  uint32_t readdir(bool plus);
  uint32_t fsstat();
  uint32_t fsinfo();
  uint32_t pathconf();
  uint32_t commit();

  // Shared by CREATE, MKDIR, SYMLINK: the reply after a node was made (or not).
  uint32_t made(const Obj& dir, const std::optional<FileAttr>& pre, const Result<FileAttr>& r);
  uint32_t apply_sattr(const Obj& o, const Sattr& s, FileAttr* after, const gateway::Caller& who);

  Nfs3Service& s_;
  const RpcCall& c_;
  XdrDecoder in_;
  XdrEncoder out_;
  gateway::Caller cred_;
};

AcceptStat Nfs3Call::run(uint32_t proc, uint32_t* status) {
  uint32_t st = kNfs3Ok;
  switch (proc) {
    case kNfs3Null: st = null(); break;
    case kNfs3Getattr: st = getattr(); break;
    case kNfs3Setattr: st = setattr(); break;
    case kNfs3Lookup: st = lookup(); break;
    case kNfs3Access: st = access(); break;
    case kNfs3Readlink: st = readlink(); break;
    case kNfs3Read: st = read(); break;
    case kNfs3Write: st = write(); break;
    case kNfs3Create: st = create(); break;
    case kNfs3Mkdir: st = mkdir(); break;
    case kNfs3Symlink: st = symlink(); break;
    case kNfs3Mknod: st = mknod(); break;
    case kNfs3Remove: st = remove(false); break;
    case kNfs3Rmdir: st = remove(true); break;
    case kNfs3Rename: st = rename(); break;
    case kNfs3Link: st = link(); break;
    case kNfs3Readdir: st = readdir(false); break;
    case kNfs3Readdirplus: st = readdir(true); break;
    case kNfs3Fsstat: st = fsstat(); break;
    case kNfs3Fsinfo: st = fsinfo(); break;
    case kNfs3Pathconf: st = pathconf(); break;
    case kNfs3Commit: st = commit(); break;
    default: return AcceptStat::kProcUnavail;
  }
  // Arguments that did not decode, or bytes left after them, are GARBAGE_ARGS.
  if (!in_.ok() || !in_.done()) return AcceptStat::kGarbageArgs;
  *status = st;
  return AcceptStat::kSuccess;
}

uint32_t Nfs3Call::getattr() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  uint32_t st = resolve(f, &o);
  out_.u32(st);
  if (st == kNfs3Ok) put_fattr(out_, o.attr, o.exp->ns.ns);
  return st;
}

uint32_t Nfs3Call::apply_sattr(const Obj& o, const Sattr& s, FileAttr* after, const gateway::Caller& who) {
  const FileAttr& a = o.attr;
  // Checked here too, not only in the Gateway: a no-op SETATTR is refused alike.
  if (Status p = gateway::check_setattr(cred_, a, s.req); !p) return nfs3_status(p);
  if (s.req.size) {
    if (a.type == gateway::FileType::kDirectory) return kNfs3ErrIsdir;
    if (a.type != gateway::FileType::kFile) return kNfs3ErrInval;
    if (*s.req.size > kMaxFileSize) return kNfs3ErrFbig;
  }
  // truncate(2) to the size a file has changes nothing, not even its times.
  gateway::SetAttrRequest req = s.req;
  if (req.size && *req.size == a.size) req.size.reset();
  if (Sattr{req}.empty()) {
    *after = a;
    return kNfs3Ok;
  }
  auto r = s_.gw_->setattr(o.ns(), a.ino, req, who);
  if (!r) return nfs3_status(r.status());
  *after = *r;
  return kNfs3Ok;
}

uint32_t Nfs3Call::setattr() {
  auto f = fh();
  Sattr s = get_sattr(in_, *s_.opts_.clock);
  bool check = in_.boolean();
  int64_t guard_ctime = 0;
  if (check) {
    int64_t sec = in_.u32();
    guard_ctime = sec * 1000000000 + in_.u32();
  }
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kWcc)) return st;
  uint32_t st = kNfs3Ok;
  FileAttr after = o.attr;
  if (o.exp->opts.read_only) st = kNfs3ErrRofs;
  else if (check && guard_ctime != o.attr.ctime_ns) st = kNfs3ErrNotSync;
  else st = apply_sattr(o, s, &after, mutator(kNfs3Setattr));
  out_.u32(st);
  put_pre_op(out_, o.attr);
  post_op(o, st == kNfs3Ok ? std::optional<FileAttr>(after) : fresh(o, o.attr.ino));
  return st;
}

uint32_t Nfs3Call::lookup() {
  auto f = fh();
  auto n = name();
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kPostOp)) return st;
  uint32_t st = kNfs3Ok;
  Result<FileAttr> r = make_error(ErrorCode::kNotDirectory, "");
  if (d.attr.type != gateway::FileType::kDirectory) r = make_error(ErrorCode::kNotDirectory, "not a directory");
  else if (Status p = gateway::check_search(cred_, d.attr); !p) r = p;
  else if (bad_name(n)) r = make_error(ErrorCode::kNameTooLong, "");
  else if (n == ".") r = d.attr;
  else if (n == "..") r = d.attr.parent == d.attr.ino ? Result<FileAttr>(d.attr) : s_.gw_->getattr(d.ns(), d.attr.parent);
  else r = s_.gw_->lookup(d.ns(), d.attr.ino, n, cred_);
  if (!r) {
    st = r.status().code() == ErrorCode::kInvalidArgument ? kNfs3ErrNoent : nfs3_status(r.status());
    out_.u32(st);
    post_op(d, d.attr);
    return st;
  }
  out_.u32(kNfs3Ok);
  out_.opaque(handle_of(d, *r));
  post_op(d, *r);
  post_op(d, d.attr);
  return kNfs3Ok;
}

uint32_t Nfs3Call::access() {
  auto f = fh();
  uint32_t want = in_.u32();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  out_.u32(kNfs3Ok);
  const FileAttr& a = o.attr;
  bool dir = a.type == gateway::FileType::kDirectory;
  uint32_t got = 0;
  if (may(a, 4)) got |= kAccessRead;
  if (dir && may(a, 1)) got |= kAccessLookup;
  if (!dir && may(a, 1)) got |= kAccessExecute;
  if (may(a, 2) && !o.exp->opts.read_only) {
    got |= kAccessModify | kAccessExtend;
    if (dir) got |= kAccessDelete;
  }
  post_op(o, a);
  out_.u32(want & got);
  return kNfs3Ok;
}

uint32_t Nfs3Call::readlink() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  uint32_t st = resolve(f, &o);
  std::string target;
  if (st == kNfs3Ok) {
    if (o.attr.type != gateway::FileType::kSymlink) {
      st = kNfs3ErrInval;
    } else {
      auto r = s_.gw_->readlink(o.ns(), o.attr.ino);
      if (r) target = std::move(*r);
      else st = nfs3_status(r.status());
    }
  }
  out_.u32(st);
  if (st == kNfs3Ok || o.attr.ino != 0) post_op(o, o.attr);
  else put_post_op(out_, std::nullopt, 0);
  if (st == kNfs3Ok) out_.string(target);
  return st;
}

uint32_t Nfs3Call::read() {
  auto f = fh();
  uint64_t offset = in_.u64();
  uint32_t count = in_.u32();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  uint32_t st = kNfs3Ok;
  if (o.attr.type == gateway::FileType::kDirectory) st = kNfs3ErrIsdir;
  else if (o.attr.type != gateway::FileType::kFile) st = kNfs3ErrInval;
  Bytes data;
  if (st == kNfs3Ok) {
    auto r = s_.gw_->read(o.ns(), o.attr.ino, offset, std::min(count, s_.opts_.max_io), cred_);
    if (r) data = std::move(*r);
    else st = nfs3_status(r.status());
  }
  out_.u32(st);
  post_op(o, o.attr);
  if (st != kNfs3Ok) return st;
  out_.u32(static_cast<uint32_t>(data.size()));
  out_.boolean(offset + data.size() >= o.attr.size);
  out_.opaque(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  s_.bytes_read_->inc(data.size());
  return kNfs3Ok;
}

uint32_t Nfs3Call::write() {
  auto f = fh();
  uint64_t offset = in_.u64();
  uint32_t count = in_.u32();
  uint32_t stable = in_.u32();
  auto data = in_.opaque(s_.opts_.max_io);
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kWcc)) return st;
  uint32_t st = kNfs3Ok;
  if (o.exp->opts.read_only) st = kNfs3ErrRofs;
  else if (o.attr.type == gateway::FileType::kDirectory) st = kNfs3ErrIsdir;
  else if (o.attr.type != gateway::FileType::kFile || count > data.size() || stable > kFileSync) st = kNfs3ErrInval;
  else if (offset + count > kMaxFileSize) st = kNfs3ErrFbig;
  std::optional<FileAttr> after;
  if (st == kNfs3Ok) {
    bool want_stable = stable != kUnstable;
    auto r = s_.gw_->write(o.ns(), o.attr.ino, offset, as_bytes(data.substr(0, count)), want_stable, cred_);
    if (!r) {
      st = nfs3_status(r.status());
    } else {
      after = *r;
      // `sync` made the write durable already; otherwise force it as asked.
      if (want_stable) {
        Status fs = s_.gw_->fsync(o.ns(), o.attr.ino);
        if (!fs) st = nfs3_status(fs);
      }
    }
  }
  out_.u32(st);
  put_pre_op(out_, o.attr);
  post_op(o, after ? after : fresh(o, o.attr.ino));
  if (st != kNfs3Ok) return st;
  out_.u32(count);
  out_.u32(stable == kUnstable ? kUnstable : kFileSync);
  out_.opaque_fixed(std::string_view(reinterpret_cast<const char*>(s_.write_verf_.data()), 8));
  s_.bytes_written_->inc(count);
  return kNfs3Ok;
}

uint32_t Nfs3Call::made(const Obj& dir, const std::optional<FileAttr>& pre, const Result<FileAttr>& r) {
  uint32_t st = r ? kNfs3Ok : nfs3_status(r.status());
  out_.u32(st);
  if (st == kNfs3Ok) {
    post_op_fh(dir, *r);
    post_op(dir, *r);
  }
  wcc(dir, pre);
  return st;
}

uint32_t Nfs3Call::create() {
  auto f = fh();
  auto n = name();
  uint32_t how = in_.u32();
  Sattr s;
  std::string verf;
  if (how == kCreateExclusive) verf = std::string(in_.opaque_fixed(8));
  else if (how <= kCreateGuarded) s = get_sattr(in_, *s_.opts_.clock);
  else (void)in_.opaque_fixed(in_.remaining() + 1);
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kWcc)) return st;
  if (uint32_t st = dir_check(d, n)) {
    out_.u32(st);
    wcc(d, d.attr);
    return st;
  }
  gateway::Caller who = mutator(kNfs3Create);
  uint32_t mode = s.req.mode.value_or(0644);
  if (how == kCreateExclusive) {
    // The verifier lives in atime/mtime until the client's SETATTR replaces them,
    // so a resent CREATE finds its own file.
    int64_t vhi = get_be32(reinterpret_cast<const uint8_t*>(verf.data()));
    int64_t vlo = get_be32(reinterpret_cast<const uint8_t*>(verf.data() + 4));
    auto r = s_.gw_->create(d.ns(), d.attr.ino, n, 0644, who, true);
    if (r) {
      gateway::SetAttrRequest t;
      t.atime_ns = vhi;
      t.mtime_ns = vlo;
      r = s_.gw_->setattr(d.ns(), r->ino, t, mutator(kNfs3Create, 1));
    } else if (r.status().code() == ErrorCode::kExists) {
      auto e = s_.gw_->lookup(d.ns(), d.attr.ino, n, cred_);
      if (e && e->type == gateway::FileType::kFile && e->atime_ns == vhi && e->mtime_ns == vlo) r = *e;
    }
    return made(d, d.attr, r);
  }
  auto r = s_.gw_->create(d.ns(), d.attr.ino, n, mode, who, how == kCreateGuarded);
  if (r && how == kCreateUnchecked) {
    // An existing file: UNCHECKED applies the attributes (usually size 0).
    s.req.mode.reset();
    if (!s.empty()) {
      Obj o{d.exp, *r};
      FileAttr after;
      uint32_t sst = apply_sattr(o, s, &after, mutator(kNfs3Create, 1));
      if (sst != kNfs3Ok) r = make_error(ErrorCode::kPermissionDenied, "");
      else r = after;
    }
  } else if (r && (s.req.uid || s.req.gid || s.req.atime_ns || s.req.mtime_ns || s.req.size)) {
    s.req.mode.reset();
    r = s_.gw_->setattr(d.ns(), r->ino, s.req, mutator(kNfs3Create, 1));
  }
  return made(d, d.attr, r);
}

uint32_t Nfs3Call::mkdir() {
  auto f = fh();
  auto n = name();
  Sattr s = get_sattr(in_, *s_.opts_.clock);
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kWcc)) return st;
  if (uint32_t st = dir_check(d, n)) {
    out_.u32(st);
    wcc(d, d.attr);
    return st;
  }
  auto r = s_.gw_->mkdir(d.ns(), d.attr.ino, n, s.req.mode.value_or(0755), mutator(kNfs3Mkdir));
  if (r && (s.req.uid || s.req.gid || s.req.atime_ns || s.req.mtime_ns)) {
    s.req.mode.reset();
    r = s_.gw_->setattr(d.ns(), r->ino, s.req, mutator(kNfs3Mkdir, 1));
  }
  return made(d, d.attr, r);
}

uint32_t Nfs3Call::symlink() {
  auto f = fh();
  auto n = name();
  (void)get_sattr(in_, *s_.opts_.clock);  // a symlink's mode is always 0777
  auto target = in_.string(kMaxNameArg);
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kWcc)) return st;
  if (uint32_t st = dir_check(d, n)) {
    out_.u32(st);
    wcc(d, d.attr);
    return st;
  }
  auto r = s_.gw_->symlink(d.ns(), d.attr.ino, n, target, mutator(kNfs3Symlink));
  return made(d, d.attr, r);
}

uint32_t Nfs3Call::mknod() {
  auto f = fh();
  (void)name();
  uint32_t type = in_.u32();
  if (type == kNf3Chr || type == kNf3Blk) {
    (void)get_sattr(in_, *s_.opts_.clock);
    in_.u32();
    in_.u32();
  } else if (type == kNf3Sock || type == kNf3Fifo) {
    (void)get_sattr(in_, *s_.opts_.clock);
  }
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kWcc)) return st;
  // Kiseki keeps files, directories and symlinks only (RFC 1813: BADTYPE for the
  // types a server does not support, and for REG/DIR/LNK, which have their own calls).
  uint32_t st = d.exp->opts.read_only ? kNfs3ErrRofs : kNfs3ErrBadtype;
  out_.u32(st);
  wcc(d, d.attr);
  return st;
}

uint32_t Nfs3Call::remove(bool dir) {
  auto f = fh();
  auto n = name();
  if (!in_.ok()) return 0;
  Obj d;
  if (uint32_t st = resolve_or_fail(f, &d, Empty::kWcc)) return st;
  uint32_t st = dir_check(d, n);
  if (st == kNfs3Ok && dir && n == ".") st = kNfs3ErrInval;
  if (st == kNfs3Ok && dir && n == "..") st = kNfs3ErrExist;
  if (st == kNfs3Ok) {
    Status r = dir ? s_.gw_->rmdir(d.ns(), d.attr.ino, n, mutator(kNfs3Rmdir))
                   : s_.gw_->unlink(d.ns(), d.attr.ino, n, mutator(kNfs3Remove));
    if (!r) st = r.code() == ErrorCode::kInvalidArgument ? kNfs3ErrNoent : nfs3_status(r);
  }
  out_.u32(st);
  wcc(d, d.attr);
  return st;
}

uint32_t Nfs3Call::rename() {
  auto ff = fh();
  auto fn = name();
  auto tf = fh();
  auto tn = name();
  if (!in_.ok()) return 0;
  Obj from, to;
  uint32_t st = resolve_pair(ff, &from, tf, &to);
  if (st != kNfs3Ok) {
    out_.u32(st);
    for (int i = 0; i < 2; ++i) {
      put_pre_op(out_, std::nullopt);
      put_post_op(out_, std::nullopt, 0);
    }
    return st;
  }
  st = dir_check(from, fn);
  if (st == kNfs3Ok) st = dir_check(to, tn);
  if (st == kNfs3Ok && (fn == "." || fn == ".." || tn == "." || tn == "..")) st = kNfs3ErrInval;
  if (st == kNfs3Ok) {
    Status r = s_.gw_->rename(from.ns(), from.attr.ino, fn, to.attr.ino, tn, mutator(kNfs3Rename));
    if (!r) st = nfs3_status(r);
  }
  out_.u32(st);
  wcc(from, from.attr);
  wcc(to, to.attr);
  return st;
}

uint32_t Nfs3Call::link() {
  auto f = fh();
  auto df = fh();
  auto n = name();
  if (!in_.ok()) return 0;
  Obj o, d;
  uint32_t st = resolve_pair(f, &o, df, &d);
  if (st != kNfs3Ok) {
    out_.u32(st);
    put_post_op(out_, std::nullopt, 0);
    put_pre_op(out_, std::nullopt);
    put_post_op(out_, std::nullopt, 0);
    return st;
  }
  st = dir_check(d, n);
  if (st == kNfs3Ok && o.attr.type == gateway::FileType::kDirectory) st = kNfs3ErrIsdir;
  std::optional<FileAttr> after;
  if (st == kNfs3Ok) {
    auto r = s_.gw_->link(o.ns(), o.attr.ino, d.attr.ino, n, mutator(kNfs3Link));
    if (r) after = *r;
    else st = nfs3_status(r.status());
  }
  out_.u32(st);
  post_op(o, after ? after : fresh(o, o.attr.ino));
  wcc(d, d.attr);
  return st;
}

uint32_t Nfs3Call::readdir(bool plus) {
  auto f = fh();
  uint64_t cookie = in_.u64();
  auto verf = in_.opaque_fixed(8);
  uint32_t dircount = plus ? in_.u32() : 0;
  uint32_t maxcount = in_.u32();
  if (!in_.ok()) return 0;
  Obj d;
  uint32_t st = resolve(f, &d);
  if (st == kNfs3Ok && d.attr.type != gateway::FileType::kDirectory) st = kNfs3ErrNotdir;
  if (st == kNfs3Ok) {
    if (Status p = gateway::check_list(cred_, d.attr); !p) st = nfs3_status(p);
  }
  // The cookie verifier is the directory's generation: cookies never change
  // meaning while the directory lives, so only a different directory (a
  // reused handle) invalidates them.
  std::string my_verf(8, '\0');
  put_be64(reinterpret_cast<uint8_t*>(my_verf.data()), d.attr.generation);
  if (st == kNfs3Ok && cookie != 0 && verf != std::string_view(my_verf) && verf != std::string_view("\0\0\0\0\0\0\0\0", 8))
    st = kNfs3ErrBadCookie;
  if (st != kNfs3Ok) {
    out_.u32(st);
    if (d.attr.ino != 0) post_op(d, d.attr);
    else put_post_op(out_, std::nullopt, 0);
    return st;
  }
  maxcount = std::min(maxcount, s_.opts_.max_io);
  if (!plus) dircount = maxcount;
  // Fixed reply bytes: status, dir attributes, verifier, list end, eof.
  size_t used = 4 + 4 + 84 + 8 + 4 + 4;
  size_t dir_used = 0;
  std::string entries;
  XdrEncoder ee(&entries);
  bool eof = false;
  size_t count = 0;
  constexpr size_t kPlusBytes = 4 + 84 + 4 + 4 + HandleCodec::kSize;  // attributes and handle
  // Adds an entry if it fits; its attributes are fetched only then.
  auto add = [&](std::string_view nm, uint64_t ck, auto&& attrs) {
    size_t name_bytes = 4 + ((nm.size() + 3) & ~size_t{3});
    size_t dir_bytes = 8 + name_bytes + 8;
    size_t bytes = 4 + dir_bytes + (plus ? kPlusBytes : 0);
    if (used + bytes > maxcount || (plus && dir_used + dir_bytes > dircount)) return false;
    std::optional<FileAttr> a = attrs();
    if (!a) return true;  // removed meanwhile: skip it
    used += bytes;
    dir_used += dir_bytes;
    ee.boolean(true).u64(a->ino).string(nm).u64(ck);
    if (plus) {
      put_post_op(ee, *a, d.exp->ns.ns);
      ee.boolean(true).opaque(handle_of(d, *a));
    }
    ++count;
    return true;
  };
  bool full = false;
  if (cookie == 0) full = !add(".", 1, [&] { return std::optional<FileAttr>(d.attr); });
  if (cookie <= 1 && !full)
    full = !add("..", 2, [&] {
      auto parent = d.attr.parent == d.attr.ino ? Result<FileAttr>(d.attr) : s_.gw_->getattr(d.ns(), d.attr.parent);
      return std::optional<FileAttr>(parent ? *parent : d.attr);
    });
  uint64_t next = cookie < 2 ? 0 : cookie;
  while (!full) {
    // Fetch about as many entries as can still fit (names of 4 bytes or less), and one more.
    size_t room = (maxcount - std::min<size_t>(used, maxcount)) / (4 + 8 + 8 + 8 + (plus ? kPlusBytes : 0));
    if (plus) room = std::min(room, (dircount - std::min<size_t>(dir_used, dircount)) / (8 + 8 + 8));
    size_t batch = std::clamp<size_t>(room + 1, 1, 1024);
    // READDIRPLUS reads the attributes of the whole batch at once; plain READDIR
    // needs only names and inode numbers.
    Result<std::vector<gateway::DirEntryPlus>> r = std::vector<gateway::DirEntryPlus>{};
    if (plus) {
      r = s_.gw_->readdir_plus(d.ns(), d.attr.ino, next, batch, cred_);
    } else if (auto names = s_.gw_->readdir(d.ns(), d.attr.ino, next, batch, cred_); names) {
      for (auto& e : *names) {
        FileAttr a;
        a.ino = e.ino;
        r->push_back(gateway::DirEntryPlus{std::move(e), a});
      }
    } else {
      r = names.status();
    }
    if (!r) {
      st = r.status().code() == ErrorCode::kInvalidArgument ? kNfs3ErrBadCookie : nfs3_status(r.status());
      break;
    }
    for (const auto& e : *r) {
      if (!add(e.entry.name, e.entry.cookie, [&] { return std::optional<FileAttr>(e.attr); })) {
        full = true;
        break;
      }
      next = e.entry.cookie;
    }
    if (!full && r->size() < batch) {
      // Short: the end, unless entries removed meanwhile were skipped.
      auto more = s_.gw_->readdir(d.ns(), d.attr.ino, next, 1, cred_);
      if (!more || more->empty()) {
        eof = true;
        break;
      }
    }
  }
  if (st == kNfs3Ok && count == 0 && !eof) st = kNfs3ErrToosmall;
  out_.u32(st);
  post_op(d, d.attr);
  if (st != kNfs3Ok) return st;
  out_.opaque_fixed(my_verf);
  out_.out()->append(entries);
  out_.boolean(false);
  out_.boolean(eof);
  return kNfs3Ok;
}

uint32_t Nfs3Call::fsstat() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  uint32_t st = resolve(f, &o);
  gateway::FsStats fs;
  if (st == kNfs3Ok) {
    auto r = s_.gw_->statfs();
    if (r) fs = *r;
    else st = kNfs3ErrIo;
  }
  out_.u32(st);
  if (st != kNfs3Ok) {
    if (o.attr.ino) post_op(o, o.attr);
    else put_post_op(out_, std::nullopt, 0);
    return st;
  }
  post_op(o, o.attr);
  uint64_t tbytes = fs.total_bytes, fbytes = fs.free_bytes, abytes = fs.avail_bytes;
  out_.u64(tbytes).u64(fbytes).u64(abytes);
  // Inodes live in the metadata store, not in the file system's inode table:
  // the files that fit are bounded by space.
  out_.u64(tbytes / kBytesPerInode).u64(fbytes / kBytesPerInode).u64(abytes / kBytesPerInode);
  out_.u32(0);  // invarsec: the values change at any time
  return kNfs3Ok;
}

uint32_t Nfs3Call::fsinfo() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  out_.u32(kNfs3Ok);
  post_op(o, o.attr);
  uint32_t io = s_.opts_.max_io;
  out_.u32(io).u32(io).u32(4096);  // rtmax rtpref rtmult
  out_.u32(io).u32(io).u32(4096);  // wtmax wtpref wtmult
  out_.u32(64 << 10);              // dtpref
  out_.u64(kMaxFileSize);
  out_.u32(0).u32(1);  // time_delta: nanoseconds
  out_.u32(kFsfLink | kFsfSymlink | kFsfHomogeneous | kFsfCanSetTime);
  return kNfs3Ok;
}

uint32_t Nfs3Call::pathconf() {
  auto f = fh();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kPostOp)) return st;
  out_.u32(kNfs3Ok);
  post_op(o, o.attr);
  out_.u32(UINT32_MAX);    // linkmax: nlink is 32 bits, nothing lower is enforced
  out_.u32(kMaxNameLen);   // name_max
  out_.boolean(true);      // no_trunc: longer names are refused
  out_.boolean(true);      // chown_restricted: only root gives files away
  out_.boolean(false);     // case_insensitive
  out_.boolean(true);      // case_preserving
  return kNfs3Ok;
}

uint32_t Nfs3Call::commit() {
  auto f = fh();
  (void)in_.u64();  // offset and count: Kiseki commits the whole file system log at once
  (void)in_.u32();
  if (!in_.ok()) return 0;
  Obj o;
  if (uint32_t st = resolve_or_fail(f, &o, Empty::kWcc)) return st;
  uint32_t st = kNfs3Ok;
  if (o.attr.type != gateway::FileType::kFile) st = kNfs3ErrInval;
  else if (Status fs = s_.gw_->fsync(o.ns(), o.attr.ino); !fs) st = nfs3_status(fs);
  out_.u32(st);
  put_pre_op(out_, o.attr);
  post_op(o, o.attr);
  if (st == kNfs3Ok)
    out_.opaque_fixed(std::string_view(reinterpret_cast<const char*>(s_.write_verf_.data()), 8));
  return st;
}

// ---- service

Nfs3Service::Nfs3Service(gateway::Gateway* gw, const ExportTable* exports, const HandleCodec* handles,
                         Nfs3Options opts)
    : gw_(gw), exports_(exports), handles_(handles), opts_(std::move(opts)) {
  crypto::random_bytes(write_verf_);
  auto& m = MetricsRegistry::global();
  for (uint32_t p = 0; p < kNfs3ProcCount; ++p) {
    Labels l{{"proc", kProcNames[p]}};
    metrics_[p] = {m.counter("kiseki_nfs_requests_total", "NFSv3 calls by procedure", l),
                   m.histogram("kiseki_nfs_request_seconds", "NFSv3 call latency by procedure", l)};
  }
  bytes_read_ = m.counter("kiseki_nfs_read_bytes_total", "Bytes returned by NFSv3 READ");
  bytes_written_ = m.counter("kiseki_nfs_write_bytes_total", "Bytes accepted by NFSv3 WRITE");
}

bool Nfs3Service::idempotent(uint32_t proc) const {
  switch (proc) {
    case kNfs3Setattr: case kNfs3Create: case kNfs3Mkdir: case kNfs3Symlink: case kNfs3Mknod:
    case kNfs3Remove: case kNfs3Rmdir: case kNfs3Rename: case kNfs3Link:
      return false;
    default:
      return true;
  }
}

AcceptStat Nfs3Service::call(const RpcCall& c, std::string* out) {
  if (c.hdr.proc >= kNfs3ProcCount) return AcceptStat::kProcUnavail;
  auto t0 = std::chrono::steady_clock::now();
  uint32_t status = kNfs3Ok;
  AcceptStat st = Nfs3Call(*this, c, out).run(c.hdr.proc, &status);
  metrics_[c.hdr.proc].calls->inc();
  metrics_[c.hdr.proc].seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (st == AcceptStat::kSuccess && status != kNfs3Ok)
    MetricsRegistry::global()
        .counter("kiseki_nfs_errors_total", "NFSv3 error replies by procedure and status",
                 {{"proc", kProcNames[c.hdr.proc]}, {"status", nfs3_status_name(status)}})
        ->inc();
  return st;
}

}  // namespace kiseki::nfs
