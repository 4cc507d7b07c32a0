#include "protocols/nfs/mount.h"

#include "protocols/nfs/errors.h"
#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

uint32_t MountService::mnt(const RpcCall& c, std::string_view path, std::string* fh) {
  // "/tenant/namespace" is the export; anything after it is a directory inside.
  size_t second = path.size() > 1 ? path.find('/', 1) : std::string_view::npos;
  size_t third = second == std::string_view::npos ? std::string_view::npos : path.find('/', second + 1);
  std::string_view export_path = path.substr(0, third);
  auto e = exports_->find_path(export_path);
  if (!e) return e.status().code() == ErrorCode::kInvalidArgument ? kMnt3ErrInval : kMnt3ErrNoent;
  const Export& ex = **e;
  if (!ex.opts.allows(c.client.ip)) return kMnt3ErrAcces;
  auto a = gw_->getattr(ex.ns, ns::kRootInode);
  if (!a) return kMnt3ErrServerfault;
  if (third != std::string_view::npos) {
    std::string_view rest = path.substr(third + 1);
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      std::string_view comp = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      if (comp.empty() || comp == ".") continue;
      if (comp.size() > kMaxNameLen) return kMnt3ErrNametoolong;
      a = gw_->lookup(ex.ns, a->ino, comp);
      if (!a) return a.status().code() == ErrorCode::kNotDirectory ? kMnt3ErrNotdir : kMnt3ErrNoent;
    }
    if (a->type != gateway::FileType::kDirectory) return kMnt3ErrNotdir;
  }
  *fh = handles_->encode(FileHandle{ex.ns.tenant, ex.ns.ns, a->ino, a->generation});
  std::lock_guard lock(mu_);
  mounts_.emplace(c.client.addr, std::string(path));
  return kMnt3Ok;
}

AcceptStat MountService::call(const RpcCall& c, std::string* out) {
  XdrDecoder in(c.args);
  XdrEncoder enc(out);
  switch (c.hdr.proc) {
    case kMntNull:
      break;
    case kMntMnt: {
      auto path = in.string(kMaxPathLen);
      if (!in.ok() || !in.done()) return AcceptStat::kGarbageArgs;
      std::string fh;
      uint32_t st = mnt(c, path, &fh);
      enc.u32(st);
      if (st == kMnt3Ok) {
        enc.opaque(fh);
        enc.u32(1).u32(static_cast<uint32_t>(AuthFlavor::kSys));
      }
      return AcceptStat::kSuccess;
    }
    case kMntDump: {
      std::lock_guard lock(mu_);
      for (const auto& [host, dir] : mounts_) enc.boolean(true).string(host).string(dir);
      enc.boolean(false);
      break;
    }
    case kMntUmnt: {
      auto path = in.string(kMaxPathLen);
      if (!in.ok()) return AcceptStat::kGarbageArgs;
      std::lock_guard lock(mu_);
      mounts_.erase({c.client.addr, std::string(path)});
      break;
    }
    case kMntUmntall: {
      std::lock_guard lock(mu_);
      for (auto it = mounts_.begin(); it != mounts_.end();)
        it = it->first == c.client.addr ? mounts_.erase(it) : std::next(it);
      break;
    }
    case kMntExport:
      for (const auto& e : exports_->list()) {
        enc.boolean(true).string(e.path);
        for (const auto& g : e.opts.client_text) enc.boolean(true).string(g);
        enc.boolean(false);
      }
      enc.boolean(false);
      break;
    default:
      return AcceptStat::kProcUnavail;
  }
  return in.ok() && in.done() ? AcceptStat::kSuccess : AcceptStat::kGarbageArgs;
}

}  // namespace kiseki::nfs
