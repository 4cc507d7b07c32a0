#include "protocols/nfs/rpc.h"

namespace kiseki::nfs {

namespace {

constexpr uint32_t kCall = 0, kReply = 1;
constexpr uint32_t kMsgAccepted = 0, kMsgDenied = 1;
constexpr uint32_t kRpcMismatch = 0, kAuthError = 1;
constexpr size_t kMaxAuthBody = 400;  // RFC 5531: opaque_auth bodies are at most 400 bytes

std::string reply_head(uint32_t xid) {
  std::string out;
  XdrEncoder(&out).u32(xid).u32(kReply);
  return out;
}

}  // namespace

ParsedCall parse_call(std::string_view record) {
  ParsedCall p;
  XdrDecoder d(record);
  p.header.xid = d.u32();
  uint32_t type = d.u32();
  if (!d.ok()) return {CallError::kGarbage, {}, {}};
  if (type != kCall) {
    p.error = CallError::kNotCall;
    return p;
  }
  uint32_t rpcvers = d.u32();
  if (!d.ok()) return {CallError::kGarbage, p.header, {}};
  if (rpcvers != kRpcVersion) {
    p.error = CallError::kRpcMismatch;
    return p;
  }
  p.header.prog = d.u32();
  p.header.vers = d.u32();
  p.header.proc = d.u32();
  uint32_t flavor = d.u32();
  std::string_view cred = d.opaque(kMaxAuthBody);
  uint32_t verf_flavor = d.u32();
  d.opaque(kMaxAuthBody);
  (void)verf_flavor;
  if (!d.ok()) {
    p.error = CallError::kBadCred;
    return p;
  }
  if (flavor == static_cast<uint32_t>(AuthFlavor::kNone)) {
    p.header.flavor = AuthFlavor::kNone;
  } else if (flavor == static_cast<uint32_t>(AuthFlavor::kSys)) {
    p.header.flavor = AuthFlavor::kSys;
    XdrDecoder c(cred);
    AuthSys s;
    s.stamp = c.u32();
    s.machine = std::string(c.string(255));
    s.uid = c.u32();
    s.gid = c.u32();
    uint32_t n = c.u32();
    if (!c.ok() || n > 16) {
      p.error = CallError::kBadCred;
      return p;
    }
    for (uint32_t i = 0; i < n; ++i) s.gids.push_back(c.u32());
    if (!c.ok() || !c.done()) {
      p.error = CallError::kBadCred;
      return p;
    }
    p.header.sys = std::move(s);
  } else {
    p.error = CallError::kUnsupportedAuth;
    return p;
  }
  p.args = d.rest();
  return p;
}

std::string accepted_reply(uint32_t xid, AcceptStat stat, uint32_t low, uint32_t high) {
  std::string out = reply_head(xid);
  XdrEncoder e(&out);
  e.u32(kMsgAccepted).u32(static_cast<uint32_t>(AuthFlavor::kNone)).u32(0);  // verifier: AUTH_NONE
  e.u32(static_cast<uint32_t>(stat));
  if (stat == AcceptStat::kProgMismatch) e.u32(low).u32(high);
  return out;
}

std::string rpc_mismatch_reply(uint32_t xid) {
  std::string out = reply_head(xid);
  XdrEncoder(&out).u32(kMsgDenied).u32(kRpcMismatch).u32(kRpcVersion).u32(kRpcVersion);
  return out;
}

std::string auth_error_reply(uint32_t xid, AuthStat stat) {
  std::string out = reply_head(xid);
  XdrEncoder(&out).u32(kMsgDenied).u32(kAuthError).u32(static_cast<uint32_t>(stat));
  return out;
}

std::string frame_record(std::string_view message) {
  std::string out;
  XdrEncoder(&out).u32(0x80000000u | static_cast<uint32_t>(message.size()));
  out.append(message);
  return out;
}

Status RecordReader::feed(std::string_view bytes) {
  buf_.append(bytes);
  size_t pos = 0;
  while (buf_.size() - pos >= 4) {
    uint32_t mark = get_be32(reinterpret_cast<const uint8_t*>(buf_.data() + pos));
    bool last = mark & 0x80000000u;
    size_t len = mark & 0x7fffffffu;
    if (partial_.size() + len > max_) {
      buf_.clear();
      partial_.clear();
      return invalid_argument("RPC record larger than " + std::to_string(max_) + " bytes");
    }
    if (buf_.size() - pos - 4 < len) break;  // fragment not complete yet
    partial_.append(buf_, pos + 4, len);
    pos += 4 + len;
    if (last) {
      ready_.push_back(std::move(partial_));
      partial_.clear();
    }
  }
  buf_.erase(0, pos);
  return Status::ok();
}

std::optional<std::string> RecordReader::next() {
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_pos_++]);
}

}  // namespace kiseki::nfs
