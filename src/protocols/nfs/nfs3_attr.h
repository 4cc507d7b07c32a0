// XDR encoding of NFSv3 attributes (fattr3, post_op_attr, pre_op_attr) and
// decoding of sattr3, shared by the procedures.
#pragma once

#include <optional>

#include "common/clock.h"
#include "gateway/types.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

constexpr size_t kMaxNameArg = 4096;  // longer than any name we accept: NAMETOOLONG, not garbage
constexpr uint64_t kMaxFileSize = 1ull << 62;
constexpr uint64_t kBytesPerInode = 512;  // metadata cost of one file, for FSSTAT's file counts

uint32_t ftype(gateway::FileType t);
void put_time(XdrEncoder& e, int64_t ns);
void put_fattr(XdrEncoder& e, const gateway::FileAttr& a, NamespaceId fsid);
void put_post_op(XdrEncoder& e, const std::optional<gateway::FileAttr>& a, NamespaceId fsid);
void put_pre_op(XdrEncoder& e, const std::optional<gateway::FileAttr>& a);

struct Sattr {
  gateway::SetAttrRequest req;
  bool empty() const {
    return !req.mode && !req.uid && !req.gid && !req.size && !req.atime_ns && !req.mtime_ns;
  }
};
// "Set to server time" takes the time from `clock`.
Sattr get_sattr(XdrDecoder& in, const Clock& clock);

}  // namespace kiseki::nfs
