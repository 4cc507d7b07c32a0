// One NFSv3 call: decoded arguments, the caller's credentials and the reply
// encoder. The procedures live in nfs3.cc (files) and nfs3_dir.cc (directory
// listings and file system information).
#pragma once

#include <optional>

#include "gateway/permissions.h"
#include "protocols/nfs/errors.h"
#include "protocols/nfs/nfs3.h"
#include "protocols/nfs/nfs3_attr.h"
#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

using gateway::FileAttr;
using gateway::NsRef;

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
    w.req.seq = (uint64_t{proc} << 32) | c_.hdr.xid;
    if (part) w.req = w.req.part(part);
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

}  // namespace kiseki::nfs
