#include "cluster/fabric_service.h"

#include <openssl/crypto.h>

#include "common/logging.h"
#include "crypto/primitives.h"
#include "net/frame.h"

namespace kiseki::cluster {

std::unique_ptr<net::RecordReader> FabricService::reader() const { return std::make_unique<net::FrameReader>(); }

std::unique_ptr<net::Session> FabricService::connected(const net::Peer& peer) {
  auto s = std::make_unique<FabricSession>();
  s->peer = peer;
  return s;
}

bool FabricService::may_block(std::string_view record) const {
  auto h = net::parse_header(record);
  if (!h) return false;
  auto op = static_cast<FabricOp>(h->opcode);
  return op == FabricOp::kForward || op == FabricOp::kChunkPut || op == FabricOp::kReadIndex ||
         op == FabricOp::kChunkHas || op == FabricOp::kChunkDrop || op == FabricOp::kChunkGet ||
         op == FabricOp::kChunkGetMany ||
         op == FabricOp::kSnapshotOpen || op == FabricOp::kSnapshotRead || op == FabricOp::kMembership;
}

std::optional<std::string> FabricService::handle(std::string_view record, net::Session& session,
                                                 std::chrono::milliseconds waited) {
  auto& s = static_cast<FabricSession&>(session);
  net::Frame f;
  if (Status st = net::parse_frame(record, &f); !st) {
    KLOG_WARN("fabric: {}: {}", s.peer.addr, st.message());
    return net::encode_response(f.header, st);
  }
  if (f.header.response()) return std::nullopt;
  if (f.header.deadline_ms != 0 && waited.count() >= f.header.deadline_ms)
    return net::encode_response(f.header, Status(ErrorCode::kTimeout, "the call's deadline passed in the queue"));
  std::string out;
  Decoder in(f.payload);
  Status st;
  try {
    st = dispatch(static_cast<FabricOp>(f.header.opcode), in, s, &out);
  } catch (const std::exception& e) {
    KLOG_ERROR("fabric: op {}: {}", f.header.opcode, e.what());
    st = Status(ErrorCode::kIoError, "internal error");
  }
  return net::encode_response(f.header, st, out);
}

Status FabricService::dispatch(FabricOp op, Decoder& in, FabricSession& s, std::string* out) {
  uint64_t peer = 0;
  {
    std::lock_guard lock(s.mu);
    if (op == FabricOp::kHello) {
      uint64_t claimed = in.u64();
      std::string_view nonce = in.raw(32);
      if (!in.ok() || !in.done() || claimed == 0) return invalid_argument("malformed fabric hello");
      s.claimed = claimed;
      s.node = 0;
      s.client_nonce = std::string(nonce);
      s.server_nonce.resize(32);
      crypto::random_bytes({reinterpret_cast<uint8_t*>(s.server_nonce.data()), 32});
      Encoder(out).u64(node_id_).raw(s.server_nonce).raw(
          fabric_proof(key_, ProofRole::kServer, s.client_nonce, s.server_nonce, node_id_));
      return Status::ok();
    }
    if (op == FabricOp::kAuth) {
      std::string_view proof = in.raw(32);
      if (!in.ok() || !in.done() || s.server_nonce.empty()) return invalid_argument("fabric auth without a hello");
      std::string want = fabric_proof(key_, ProofRole::kClient, s.server_nonce, s.client_nonce, s.claimed);
      s.server_nonce.clear();  // one try per hello
      if (CRYPTO_memcmp(want.data(), proof.data(), 32) != 0) {
        KLOG_WARN("fabric: {} failed to prove the cluster secret (claimed node {})", s.peer.addr, s.claimed);
        return make_error(ErrorCode::kPermissionDenied, "wrong cluster secret");
      }
      s.node = s.claimed;
      return Status::ok();
    }
    if (s.node == 0) return make_error(ErrorCode::kPermissionDenied, "authenticate first (kHello, kAuth)");
    peer = s.node;
  }
  if (faults_ && faults_->cut(peer)) return make_error(ErrorCode::kUnavailable, "cut off (test faults)");
  switch (op) {
    case FabricOp::kForward: {
      uint64_t shard = in.u64();
      std::string_view record = in.raw(in.remaining());
      if (!in.ok()) return invalid_argument("malformed forward");
      KISEKI_ASSIGN_OR_RETURN(Committed c, handler_->forward(shard, record));
      *out = encode_committed(c);
      return Status::ok();
    }
    case FabricOp::kReadIndex: {
      uint64_t shard = in.u64();
      if (!in.ok()) return invalid_argument("malformed read index");
      KISEKI_ASSIGN_OR_RETURN(uint64_t idx, handler_->read_index(shard));
      Encoder(out).u64(idx);
      return Status::ok();
    }
    case FabricOp::kConfirm: {
      uint64_t shard = in.u64(), term = in.u64();
      if (!in.ok()) return invalid_argument("malformed confirm");
      Encoder(out).u8(handler_->confirm(shard, peer, term) ? 1 : 0);
      return Status::ok();
    }
    case FabricOp::kChunkPut: {
      std::vector<std::pair<ChunkId, std::string_view>> chunks;
      KISEKI_TRY(decode_chunk_put(in, &chunks));
      return handler_->put_chunks(chunks);
    }
    case FabricOp::kChunkGet: {
      ChunkId id;
      if (!ChunkId::from_view(in.raw(32), &id) || !in.ok()) return invalid_argument("malformed chunk get");
      Bytes sealed;
      KISEKI_TRY(handler_->get_chunk(id, &sealed));
      out->assign(reinterpret_cast<const char*>(sealed.data()), sealed.size());
      return Status::ok();
    }
    case FabricOp::kChunkHas: case FabricOp::kChunkDrop: case FabricOp::kChunkGetMany: {
      std::vector<ChunkId> keys;
      KISEKI_TRY(decode_keys(in, &keys));
      if (op == FabricOp::kChunkDrop) return handler_->drop_chunks(keys);
      if (op == FabricOp::kChunkGetMany) {
        KISEKI_ASSIGN_OR_RETURN(*out, handler_->get_chunks(keys));
      } else {
        KISEKI_ASSIGN_OR_RETURN(*out, handler_->has_chunks(keys));
      }
      return Status::ok();
    }
    case FabricOp::kStatus:
      *out = handler_->status_json();
      return Status::ok();
    case FabricOp::kSnapshotOpen: {
      uint64_t shard = in.u64(), min_index = in.u64();
      if (!in.ok() || !in.done()) return invalid_argument("malformed snapshot open");
      std::vector<CheckpointFile> files;
      KISEKI_ASSIGN_OR_RETURN(std::string token, handler_->snapshot_open(shard, min_index, &files));
      Encoder e(out);
      e.str(token).u32(static_cast<uint32_t>(files.size()));
      for (const auto& f : files) e.str(f.name).u64(f.size);
      return Status::ok();
    }
    case FabricOp::kSnapshotRead: {
      std::string_view token = in.str(), file = in.str();
      uint64_t offset = in.u64();
      uint32_t max = in.u32();
      if (!in.ok() || !in.done()) return invalid_argument("malformed snapshot read");
      return handler_->snapshot_read(token, file, offset, max, out);
    }
    case FabricOp::kMembership: {
      uint8_t mop = in.u8();
      uint64_t shard = in.u64();
      uint64_t id = in.u64();
      std::string_view fabric = in.str();
      if (!in.ok() || !in.done() || mop < 1 || mop > 4) return invalid_argument("malformed membership call");
      KISEKI_ASSIGN_OR_RETURN(*out, handler_->membership(static_cast<MembershipOp>(mop), shard, id, fabric));
      return Status::ok();
    }
    case FabricOp::kSnapshotClose: {
      std::string_view token = in.str();
      if (!in.ok() || !in.done()) return invalid_argument("malformed snapshot close");
      handler_->snapshot_close(token);
      return Status::ok();
    }
    default:
      return make_error(ErrorCode::kNotSupported, "unknown fabric op " + std::to_string(static_cast<int>(op)));
  }
}

}  // namespace kiseki::cluster
