// NFSv3 (RFC 1813): the file procedures and the service.
#include "protocols/nfs/nfs3.h"

#include <chrono>

#include "crypto/primitives.h"
#include "protocols/nfs/nfs3_call.h"

namespace kiseki::nfs {

namespace {

constexpr const char* kProcNames[kNfs3ProcCount] = {
    "NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ", "WRITE",
    "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK",
    "READDIR", "READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"};

}  // namespace

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
  // Opened chunks go out as they lie, slices after the reply (c_.bulk), when
  // the server sends them so; inline bytes and holes are copied in. One per
  // thread: its copy buffer is kept at its size.
  thread_local gateway::PinnedBytes data;
  if (st == kNfs3Ok) {
    Status r = s_.gw_->read_pinned(o.ns(), o.attr.ino, offset, std::min(count, s_.opts_.max_io), cred_, &data);
    if (!r) st = nfs3_status(r);
  }
  out_.u32(st);
  post_op(o, o.attr);
  if (st != kNfs3Ok) return st;
  auto n = static_cast<uint32_t>(data.size);
  out_.u32(n);
  out_.boolean(offset + n >= o.attr.size);
  out_.u32(n);  // the opaque's length
  static constexpr uint8_t kPad[4] = {};
  ByteSpan pad(kPad, (4 - n % 4) % 4);
  if (c_.bulk && !data.pins.empty()) {
    c_.bulk->tail.insert(c_.bulk->tail.end(), data.slices.begin(), data.slices.end());
    c_.bulk->tail.push_back(pad);
    for (auto& p : data.pins) c_.bulk->pins.push_back(std::move(p));
  } else {
    std::string* out = out_.out();
    out->reserve(out->size() + n + pad.size());
    for (ByteSpan sl : data.slices) out->append(reinterpret_cast<const char*>(sl.data()), sl.size());
    out->append(pad.size(), '\0');
  }
  data.release();
  s_.bytes_read_->inc(n);
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
