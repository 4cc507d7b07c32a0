#include "protocols/nfs/rpc_dispatcher.h"

#include "common/crc32c.h"
#include "common/logging.h"

namespace kiseki::nfs {

std::optional<std::string> RpcDispatcher::handle(std::string_view record, net::Session& session,
                                                 std::chrono::milliseconds waited) {
  net::Reply r;
  if (!answer(record, session, waited, &r)) return std::nullopt;
  return std::move(r).flatten();
}

bool RpcDispatcher::answer(std::string_view record, net::Session& session, std::chrono::milliseconds /*waited*/,
                           net::Reply* out) {
  const ClientInfo& client = session.peer;
  ParsedCall pc = parse_call(record);
  out->clear();
  std::string& reply = out->framed;
  reply.assign(4, '\0');  // the record mark, filled in at the end
  const uint32_t xid = pc.header.xid;
  auto frame = [out, &reply]() {
    size_t tail = 0;
    for (ByteSpan s : out->tail) tail += s.size();
    uint32_t len = static_cast<uint32_t>(reply.size() - 4 + tail) | 0x80000000u;
    put_be32(reinterpret_cast<uint8_t*>(reply.data()), len);
    return true;
  };
  switch (pc.error) {
    case CallError::kNone: break;
    case CallError::kGarbage:
    case CallError::kNotCall: return false;
    case CallError::kRpcMismatch: reply += rpc_mismatch_reply(xid); return frame();
    case CallError::kBadCred: reply += auth_error_reply(xid, AuthStat::kBadCred); return frame();
    case CallError::kUnsupportedAuth: reply += auth_error_reply(xid, AuthStat::kRejectedCred); return frame();
  }
  const CallHeader& h = pc.header;
  auto it = programs_.find(h.prog);
  if (it == programs_.end()) {
    reply += accepted_reply(xid, AcceptStat::kProgUnavail);
    return frame();
  }
  RpcProgram* prog = it->second;
  if (h.vers < prog->min_version() || h.vers > prog->max_version()) {
    reply += accepted_reply(xid, AcceptStat::kProgMismatch, prog->min_version(), prog->max_version());
    return frame();
  }
  if (h.proc != 0 && h.flavor != AuthFlavor::kSys && prog->needs_auth_sys(h.proc)) {
    reply += auth_error_reply(xid, AuthStat::kTooWeak);
    return frame();
  }
  std::optional<DrcKey> key;
  if (!prog->idempotent(h.proc)) {
    key = DrcKey{client.ip, client.port, xid, h.prog, h.vers, h.proc, crc32c(pc.args.data(), pc.args.size()),
                 static_cast<uint32_t>(pc.args.size())};
    std::string cached;
    switch (drc_.begin(*key, &cached)) {
      case DuplicateRequestCache::State::kNew: break;
      case DuplicateRequestCache::State::kInProgress: return false;
      case DuplicateRequestCache::State::kReplay: reply = std::move(cached); return true;
    }
  }
  reply += accepted_reply(xid, AcceptStat::kSuccess);
  AcceptStat st;
  try {
    // A reply the cache keeps is whole: no slices.
    st = prog->call(RpcCall{h, pc.args, client, key ? nullptr : out}, &reply);
  } catch (const std::exception& e) {
    KLOG_ERROR("rpc prog {} proc {}: {}", h.prog, h.proc, e.what());
    st = AcceptStat::kSystemErr;
  }
  if (st != AcceptStat::kSuccess) {
    reply.resize(4);
    out->tail.clear();
    out->pins.clear();
    reply += accepted_reply(xid, st);
  }
  frame();
  if (key) drc_.finish(*key, reply);
  return true;
}

bool RpcDispatcher::may_block(std::string_view record) const {
  if (record.size() < 24) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(record.data());
  auto it = programs_.find(get_be32(p + 12));
  return it != programs_.end() && it->second->may_block(get_be32(p + 20));
}

}  // namespace kiseki::nfs
