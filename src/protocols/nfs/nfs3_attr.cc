#include "protocols/nfs/nfs3_attr.h"

#include "protocols/nfs/nfs3_const.h"

namespace kiseki::nfs {

using gateway::FileAttr;

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

}  // namespace kiseki::nfs
