#include "protocols/native/native_service.h"

#include <openssl/crypto.h>

#include "common/logging.h"
#include "crypto/primitives.h"
#include "net/frame.h"

namespace kiseki::native {

std::unique_ptr<net::RecordReader> NativeService::reader() const { return std::make_unique<net::FrameReader>(); }

std::unique_ptr<net::Session> NativeService::connected(const net::Peer& peer) {
  auto s = std::make_unique<NativeSession>();
  s->peer = peer;
  return s;
}

bool NativeService::may_block(std::string_view record) const {
  auto h = net::parse_header(record);
  return h && is_mutation(static_cast<Op>(h->opcode));
}

std::optional<std::string> NativeService::handle(std::string_view record, net::Session& session,
                                                 std::chrono::milliseconds waited) {
  net::Reply r;
  if (!answer(record, session, waited, &r)) return std::nullopt;
  return std::move(r).flatten();
}

bool NativeService::answer(std::string_view record, net::Session& session, std::chrono::milliseconds waited,
                           net::Reply* reply) {
  reply->clear();
  auto& s = static_cast<NativeSession&>(session);
  net::Frame f;
  if (Status st = net::parse_frame(record, &f); !st) {
    KLOG_WARN("native: {}: {}", s.peer.addr, st.message());
    reply->framed = net::encode_response(f.header, st);
    return true;
  }
  if (f.header.response()) return false;  // nothing is asked of a client here
  if (f.header.deadline_ms != 0 && waited.count() >= f.header.deadline_ms) {
    // The caller has stopped waiting: the call is not run (a retry of a
    // mutation carries the same request id and runs then).
    reply->framed = net::encode_response(
        f.header, Status(ErrorCode::kTimeout, "the call's deadline passed in the server's queue"));
    return true;
  }
  std::string out;
  Decoder in(f.payload);
  Status st;
  try {
    st = dispatch(static_cast<Op>(f.header.opcode), in, s, &out, reply);
  } catch (const std::exception& e) {
    KLOG_ERROR("native: op {}: {}", f.header.opcode, e.what());
    st = Status(ErrorCode::kIoError, "internal error");
  }
  if (!st) {
    reply->tail.clear();
    reply->pins.clear();
  }
  reply->framed = net::encode_response(f.header, st, out, reply->tail);
  return true;
}

Status NativeService::dispatch(Op op, Decoder& in, NativeSession& s, std::string* out, net::Reply* bulk) {
  switch (op) {
    case Op::kPing: return Status::ok();
    case Op::kHello: return hello(in, s, out);
    case Op::kAuth: return auth(in, s, out);
    default: break;
  }
  {
    std::lock_guard lock(s.mu);
    if (!s.authenticated) return Status(ErrorCode::kPermissionDenied, "authenticate first (kHello, kAuth)");
  }
  if (op == Op::kMount) return mount(in, s, out);
  KISEKI_ASSIGN_OR_RETURN(gateway::NsRef ns, ns_of(in, s));
  Encoder e(out);
  if (static_cast<uint16_t>(op) >= static_cast<uint16_t>(Op::kPutObject)) return object_op(op, in, ns, e, bulk);
  gateway::Caller who;
  if (!decode_caller(in, &who)) return invalid_argument("malformed caller");
  return file_op(op, in, ns, who, e, bulk);
}

Status NativeService::hello(Decoder& in, NativeSession& s, std::string* out) {
  std::string key_id(in.str());
  if (!in.ok() || key_id.empty()) return invalid_argument("kHello needs an access key id");
  std::string challenge(kChallengeBytes, '\0');
  crypto::random_bytes({reinterpret_cast<uint8_t*>(challenge.data()), challenge.size()});
  std::lock_guard lock(s.mu);
  s.key_id = std::move(key_id);
  s.challenge = challenge;
  s.authenticated = false;
  *out = std::move(challenge);
  return Status::ok();
}

Status NativeService::auth(Decoder& in, NativeSession& s, std::string* out) {
  std::string_view mac = in.raw(32);
  if (!in.ok()) return invalid_argument("kAuth needs a 32-byte HMAC");
  std::string key_id, challenge;
  {
    std::lock_guard lock(s.mu);
    key_id = s.key_id;
    challenge = std::exchange(s.challenge, {});  // one answer per challenge
  }
  const Status denied(ErrorCode::kPermissionDenied, "access denied");
  if (challenge.empty()) return Status(ErrorCode::kPermissionDenied, "no challenge to answer (kHello first)");
  auto key = gw_->get_access_key(key_id);
  if (!key) {
    KLOG_WARN("native: {}: unknown access key {}", s.peer.addr, key_id);
    return denied;
  }
  crypto::Digest want = crypto::hmac_sha256(as_bytes(key->secret_key), as_bytes(auth_message(challenge, key_id)));
  if (CRYPTO_memcmp(want.data(), mac.data(), want.size()) != 0) {
    KLOG_WARN("native: {}: wrong secret for access key {}", s.peer.addr, key_id);
    return denied;
  }
  if (!key->user.empty()) {
    // A user's key is for S3, where bucket policies say what it may do; a
    // mount is the whole tenant's.
    KLOG_WARN("native: {}: access key {} is user {}'s: a mount needs the tenant's own key", s.peer.addr, key_id,
              key->user);
    return denied;
  }
  KISEKI_ASSIGN_OR_RETURN(gateway::TenantInfo t, gw_->get_tenant(key->tenant));
  if (t.shredded) return denied;
  {
    std::lock_guard lock(s.mu);
    s.authenticated = true;
    s.tenant = t.id;
    s.mounted.clear();
  }
  Encoder(out).u64(t.id).str(t.name);
  return Status::ok();
}

Status NativeService::mount(Decoder& in, NativeSession& s, std::string* out) {
  std::string name(in.str());
  if (!in.ok()) return invalid_argument("kMount needs a namespace name");
  TenantId tenant;
  {
    std::lock_guard lock(s.mu);
    tenant = s.tenant;
  }
  KISEKI_ASSIGN_OR_RETURN(gateway::NamespaceInfo ns, gw_->find_namespace(tenant, name));
  KISEKI_ASSIGN_OR_RETURN(gateway::FileAttr root, gw_->getattr(ns.ref, ns::kRootInode));
  {
    std::lock_guard lock(s.mu);
    s.mounted.insert(ns.ref.ns);
  }
  Encoder e(out);
  e.u64(ns.ref.ns);
  encode_attr(e, root);
  return Status::ok();
}

Result<gateway::NsRef> NativeService::ns_of(Decoder& in, NativeSession& s) {
  NamespaceId id = in.u64();
  if (!in.ok()) return invalid_argument("a request must name its namespace");
  std::lock_guard lock(s.mu);
  if (!s.mounted.count(id)) return Status(ErrorCode::kPermissionDenied, "namespace not mounted by this session");
  return gateway::NsRef{s.tenant, id};
}

}  // namespace kiseki::native
