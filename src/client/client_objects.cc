// libkiseki's object calls: a body larger than one frame goes up as a
// multipart upload, a large GET comes down in frames of kMaxIo.
#include "client/client.h"

namespace kiseki::client {

using native::Op;

namespace {

Result<ObjectInfo> decode_info_answer(const std::string& payload) {
  Decoder d(payload);
  ObjectInfo i;
  if (!native::decode_info(d, &i)) return Client::malformed_answer();
  return i;
}

std::string ns_arg(NamespaceId ns) {
  std::string out;
  Encoder(&out).u64(ns);
  return out;
}

}  // namespace

Result<ObjectInfo> Client::put_object(NamespaceId ns, std::string_view key, std::string_view body,
                                      const gateway::ObjectMeta& meta) {
  if (body.size() <= native::kMaxPutBytes) {
    std::string a = ns_arg(ns);
    Encoder e(&a);
    e.str(key);
    native::encode_meta(e, meta);
    e.u8(0).u8(0).raw(body);
    KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kPutObject, a));
    return decode_info_answer(r);
  }
  std::string a = ns_arg(ns);
  Encoder e(&a);
  e.str(key);
  native::encode_meta(e, meta);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kCreateUpload, a));
  Decoder d(r);
  std::string upload(d.str());
  if (!d.ok()) return malformed_answer();
  std::vector<std::pair<uint32_t, std::string>> parts;
  for (uint32_t n = 1; !body.empty(); ++n) {
    std::string_view piece = body.substr(0, native::kMaxPutBytes);
    std::string pa = ns_arg(ns);
    Encoder(&pa).str(upload).u32(n).raw(piece);
    auto pr = call(Op::kUploadPart, pa);
    if (!pr) {
      std::string ab = ns_arg(ns);
      Encoder(&ab).str(upload);
      (void)call(Op::kAbortUpload, ab);
      return pr.status();
    }
    Decoder pd(*pr);
    parts.emplace_back(n, std::string(pd.str()));
    body.remove_prefix(piece.size());
  }
  std::string ca = ns_arg(ns);
  Encoder ce(&ca);
  ce.str(upload).u32(static_cast<uint32_t>(parts.size()));
  for (const auto& [n, etag] : parts) ce.u32(n).str(etag);
  KISEKI_ASSIGN_OR_RETURN(std::string cr, call(Op::kCompleteUpload, ca));
  return decode_info_answer(cr);
}

Result<std::string> Client::get_object(NamespaceId ns, std::string_view key, uint64_t offset,
                                       std::optional<uint64_t> length, ObjectInfo* info) {
  std::string out;
  uint64_t left = length.value_or(~uint64_t{0});
  for (;;) {
    std::string a = ns_arg(ns);
    Encoder(&a).str(key).u64(offset).u64(left);
    KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kGetObject, a));
    Decoder d(r);
    ObjectInfo i;
    if (!native::decode_info(d, &i)) return malformed_answer();
    std::string_view piece = d.raw(d.remaining());
    out.append(piece);
    offset += piece.size();
    left -= std::min<uint64_t>(left, piece.size());
    bool done = piece.empty() || left == 0 || offset >= i.size;
    if (info) *info = std::move(i);
    if (done) return out;
  }
}

Result<ObjectInfo> Client::head_object(NamespaceId ns, std::string_view key) {
  std::string a = ns_arg(ns);
  Encoder(&a).str(key);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kHeadObject, a));
  return decode_info_answer(r);
}

Status Client::delete_object(NamespaceId ns, std::string_view key) {
  std::string a = ns_arg(ns);
  Encoder(&a).str(key);
  return call(Op::kDeleteObject, a).status();
}

Result<gateway::ListResult> Client::list_objects(NamespaceId ns, const gateway::ListRequest& req) {
  std::string a = ns_arg(ns);
  Encoder(&a).str(req.prefix).str(req.delimiter).str(req.start_after).u32(req.max_keys);
  KISEKI_ASSIGN_OR_RETURN(std::string r, call(Op::kListObjects, a));
  Decoder d(r);
  gateway::ListResult out;
  uint32_t n = d.u32();
  if (!d.ok() || n > 1000) return malformed_answer();
  out.objects.resize(n);
  for (auto& o : out.objects)
    if (!native::decode_info(d, &o)) return malformed_answer();
  uint32_t p = d.u32();
  if (!d.ok() || p > 1000) return malformed_answer();
  for (uint32_t k = 0; k < p; ++k) out.common_prefixes.emplace_back(d.str());
  out.truncated = d.u8();
  out.next_start_after = std::string(d.str());
  if (!d.ok()) return malformed_answer();
  return out;
}

}  // namespace kiseki::client
