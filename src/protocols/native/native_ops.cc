// The file and object operations of the native protocol: arguments decoded,
// the Gateway called, results encoded (wire.h gives every layout).
#include <fcntl.h>

#include "gateway/permissions.h"
#include "protocols/native/native_service.h"

namespace kiseki::native {

namespace {

using gateway::FileAttr;

Status malformed() { return invalid_argument("malformed arguments"); }

Status put_attr(Encoder& out, const Result<FileAttr>& a) {
  if (!a) return a.status();
  encode_attr(out, *a);
  return Status::ok();
}

// The access an open with `flags` asks for.
uint32_t wanted(uint32_t flags) {
  uint32_t want = 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: want = gateway::kMayRead; break;
    case O_WRONLY: want = gateway::kMayWrite; break;
    default: want = gateway::kMayRead | gateway::kMayWrite; break;
  }
  if (flags & O_TRUNC) want |= gateway::kMayWrite;
  return want;
}

constexpr uint32_t kMaxDirEntries = 4096;

// Moves what a whole pinned read gave into the answer: opened chunks as the
// reply's tail, sent as they lie; copied bytes (inline data, holes) into `out`.
void give(gateway::PinnedBytes& data, Encoder& out, net::Reply* bulk) {
  if (!data.pins.empty()) {
    bulk->tail.insert(bulk->tail.end(), data.slices.begin(), data.slices.end());
    for (auto& p : data.pins) bulk->pins.push_back(std::move(p));
  } else {
    for (ByteSpan sl : data.slices) out.raw(sl);
  }
  data.release();
}

// One answer holds the whole range, however many slices (at least 4 KiB each):
// one read of the file's layout, never a short read before the end.
constexpr size_t kAllSlices = SIZE_MAX;
thread_local gateway::PinnedBytes read_buf;  // its copy buffer is kept at its size

}  // namespace

Status NativeService::file_op(Op op, Decoder& in, gateway::NsRef ns, const gateway::Caller& who, Encoder& out,
                             net::Reply* bulk) {
  switch (op) {
    case Op::kLookup: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->lookup(ns, parent, name, who));
    }
    case Op::kGetattr: {
      InodeId ino = in.u64();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->getattr(ns, ino));
    }
    case Op::kSetattr: {
      InodeId ino = in.u64();
      gateway::SetAttrRequest req;
      if (!decode_setattr(in, &req)) return malformed();
      return put_attr(out, gw_->setattr(ns, ino, req, who));
    }
    case Op::kCreate: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      uint32_t mode = in.u32();
      bool exclusive = in.u8();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->create(ns, parent, name, mode, who, exclusive));
    }
    case Op::kMkdir: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      uint32_t mode = in.u32();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->mkdir(ns, parent, name, mode, who));
    }
    case Op::kMknod:
      return Status(ErrorCode::kNotSupported, "device, FIFO and socket nodes are not stored");
    case Op::kUnlink:
    case Op::kRmdir: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      if (!in.ok()) return malformed();
      return op == Op::kUnlink ? gw_->unlink(ns, parent, name, who) : gw_->rmdir(ns, parent, name, who);
    }
    case Op::kRename: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      InodeId new_parent = in.u64();
      std::string_view new_name = in.str();
      uint32_t flags = in.u32();  // kRenameNoReplace
      if (!in.ok()) return malformed();
      return gw_->rename(ns, parent, name, new_parent, new_name, who, flags & kRenameNoReplace);
    }
    case Op::kLink: {
      InodeId ino = in.u64();
      InodeId new_parent = in.u64();
      std::string_view new_name = in.str();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->link(ns, ino, new_parent, new_name, who));
    }
    case Op::kSymlink: {
      InodeId parent = in.u64();
      std::string_view name = in.str();
      std::string_view target = in.str();
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->symlink(ns, parent, name, target, who));
    }
    case Op::kReadlink: {
      InodeId ino = in.u64();
      if (!in.ok()) return malformed();
      KISEKI_ASSIGN_OR_RETURN(std::string target, gw_->readlink(ns, ino));
      out.str(target);
      return Status::ok();
    }
    case Op::kReaddirplus: {
      InodeId dir = in.u64();
      uint64_t cookie = in.u64();
      uint32_t max = in.u32();
      if (!in.ok() || max == 0) return malformed();
      KISEKI_ASSIGN_OR_RETURN(auto entries, gw_->readdir_plus(ns, dir, cookie, std::min(max, kMaxDirEntries), who));
      out.u32(static_cast<uint32_t>(entries.size()));
      for (const auto& e : entries) {
        out.str(e.entry.name).u64(e.entry.cookie);
        encode_attr(out, e.attr);
      }
      return Status::ok();
    }
    case Op::kOpen: {
      InodeId ino = in.u64();
      uint32_t flags = in.u32();
      if (!in.ok()) return malformed();
      KISEKI_ASSIGN_OR_RETURN(FileAttr a, gw_->getattr(ns, ino));
      uint32_t want = wanted(flags);
      if (a.type == gateway::FileType::kDirectory && (want & gateway::kMayWrite))
        return Status(ErrorCode::kIsDirectory, "a directory is not opened for writing");
      if (!gateway::may(who, a, want)) return Status(ErrorCode::kPermissionDenied, "permission denied");
      encode_attr(out, a);
      return Status::ok();
    }
    case Op::kRead: {
      InodeId ino = in.u64();
      uint64_t offset = in.u64();
      uint32_t length = in.u32();
      if (!in.ok() || length > kMaxIo) return malformed();
      KISEKI_TRY(gw_->read_pinned(ns, ino, offset, length, who, &read_buf, kAllSlices));
      give(read_buf, out, bulk);
      return Status::ok();
    }
    case Op::kWrite: {
      InodeId ino = in.u64();
      uint64_t offset = in.u64();
      bool stable = in.u8();
      std::string_view data = in.raw(in.remaining());
      if (!in.ok()) return malformed();
      return put_attr(out, gw_->write(ns, ino, offset, as_bytes(data), stable, who));
    }
    case Op::kFsync: {
      InodeId ino = in.u64();
      if (!in.ok()) return malformed();
      return gw_->fsync(ns, ino);
    }
    case Op::kRelease:
      return Status::ok();
    case Op::kStatfs: {
      KISEKI_ASSIGN_OR_RETURN(gateway::FsStats st, gw_->statfs());
      encode_fsstats(out, st);
      return Status::ok();
    }
    default:
      return Status(ErrorCode::kNotSupported, "unknown operation " + std::to_string(static_cast<uint16_t>(op)));
  }
}

Status NativeService::object_op(Op op, Decoder& in, gateway::NsRef ns, Encoder& out, net::Reply* bulk) {
  auto put_info = [&](const Result<gateway::ObjectInfo>& r) {
    if (!r) return r.status();
    encode_info(out, *r);
    return Status::ok();
  };
  switch (op) {
    case Op::kPutObject: {
      std::string_view key = in.str();
      gateway::ObjectMeta meta;
      if (!decode_meta(in, &meta)) return malformed();
      gateway::PutConditions cond;
      cond.if_none_match_star = in.u8();
      if (in.u8()) cond.if_match = std::string(in.str());
      std::string_view body = in.raw(in.remaining());
      if (!in.ok()) return malformed();
      return put_info(gw_->put_object(ns, key, gateway::source_from(as_bytes(body)), meta, cond));
    }
    case Op::kGetObject: {
      std::string_view key = in.str();
      uint64_t offset = in.u64();
      uint64_t length = in.u64();
      if (!in.ok()) return malformed();
      KISEKI_ASSIGN_OR_RETURN(gateway::ObjectHandle h, gw_->open_object(ns, key));
      if (offset > h.info.size || (offset == h.info.size && h.info.size > 0))
        return invalid_argument("range starts beyond the end of the object");
      encode_info(out, h.info);
      // One frame carries at most kMaxIo: the client asks again for the rest.
      KISEKI_TRY(gw_->read_object_pinned(h, offset, std::min<uint64_t>(length, kMaxIo), &read_buf, kAllSlices));
      give(read_buf, out, bulk);
      return Status::ok();
    }
    case Op::kHeadObject: {
      std::string_view key = in.str();
      if (!in.ok()) return malformed();
      return put_info(gw_->head_object(ns, key));
    }
    case Op::kDeleteObject: {
      std::string_view key = in.str();
      if (!in.ok()) return malformed();
      return gw_->delete_object(ns, key);
    }
    case Op::kListObjects: {
      gateway::ListRequest req;
      req.prefix = std::string(in.str());
      req.delimiter = std::string(in.str());
      req.start_after = std::string(in.str());
      req.max_keys = std::min<uint32_t>(in.u32(), 1000);
      if (!in.ok()) return malformed();
      KISEKI_ASSIGN_OR_RETURN(gateway::ListResult r, gw_->list_objects(ns, req));
      out.u32(static_cast<uint32_t>(r.objects.size()));
      for (const auto& o : r.objects) encode_info(out, o);
      out.u32(static_cast<uint32_t>(r.common_prefixes.size()));
      for (const auto& p : r.common_prefixes) out.str(p);
      out.u8(r.truncated).str(r.next_start_after);
      return Status::ok();
    }
    case Op::kCreateUpload: {
      std::string_view key = in.str();
      gateway::ObjectMeta meta;
      if (!decode_meta(in, &meta)) return malformed();
      KISEKI_ASSIGN_OR_RETURN(std::string id, gw_->create_upload(ns, key, meta));
      out.str(id);
      return Status::ok();
    }
    case Op::kUploadPart: {
      std::string_view id = in.str();
      uint32_t part = in.u32();
      std::string_view body = in.raw(in.remaining());
      if (!in.ok()) return malformed();
      KISEKI_ASSIGN_OR_RETURN(gateway::PartInfo p, gw_->upload_part(ns, id, part, gateway::source_from(as_bytes(body))));
      out.str(p.etag).u64(p.size);
      return Status::ok();
    }
    case Op::kCompleteUpload: {
      std::string_view id = in.str();
      uint32_t n = in.u32();
      if (!in.ok() || n > gateway::kMaxPartNumber) return malformed();
      std::vector<std::pair<uint32_t, std::string>> parts(n);
      for (auto& [num, etag] : parts) {
        num = in.u32();
        etag = std::string(in.str());
      }
      if (!in.ok()) return malformed();
      return put_info(gw_->complete_upload(ns, id, parts));
    }
    case Op::kAbortUpload: {
      std::string_view id = in.str();
      if (!in.ok()) return malformed();
      return gw_->abort_upload(ns, id);
    }
    default:
      return Status(ErrorCode::kNotSupported, "unknown operation " + std::to_string(static_cast<uint16_t>(op)));
  }
}

}  // namespace kiseki::native
