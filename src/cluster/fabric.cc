#include "cluster/fabric.h"

#include "crypto/primitives.h"

namespace kiseki::cluster {

Result<ClusterKeys> ClusterKeys::from_secret(std::string_view secret) {
  if (secret.size() < 16) return invalid_argument("the cluster secret must hold at least 16 bytes");
  ClusterKeys k;
  ByteSpan ikm(reinterpret_cast<const uint8_t*>(secret.data()), secret.size());
  crypto::hkdf_sha256(ikm, {}, "kiseki-fabric-auth-v1", {k.fabric.data(), k.fabric.size()});
  k.master_seed.resize(32);
  crypto::hkdf_sha256(ikm, {}, "kiseki-master-epoch-1-v1",
                      {reinterpret_cast<uint8_t*>(k.master_seed.data()), k.master_seed.size()});
  return k;
}

std::string fabric_proof(const crypto::SecretKey& key, ProofRole role, std::string_view nonce_a,
                         std::string_view nonce_b, uint64_t node) {
  std::string msg = role == ProofRole::kServer ? "kiseki-fabric-server" : "kiseki-fabric-client";
  Encoder(&msg).str(nonce_a).str(nonce_b).u64(node);
  auto d = crypto::hmac_sha256(key.span(), as_bytes(msg));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

const char* fabric_op_name(FabricOp op) {
  switch (op) {
    case FabricOp::kHello: return "hello";
    case FabricOp::kAuth: return "auth";
    case FabricOp::kForward: return "forward";
    case FabricOp::kReadIndex: return "read_index";
    case FabricOp::kConfirm: return "confirm";
    case FabricOp::kChunkPut: return "chunk_put";
    case FabricOp::kChunkGet: return "chunk_get";
    case FabricOp::kChunkHas: return "chunk_has";
    case FabricOp::kChunkDrop: return "chunk_drop";
    case FabricOp::kChunkGetMany: return "chunk_get_many";
    case FabricOp::kStatus: return "status";
    case FabricOp::kSnapshotOpen: return "snapshot_open";
    case FabricOp::kSnapshotRead: return "snapshot_read";
    case FabricOp::kSnapshotClose: return "snapshot_close";
    case FabricOp::kMembership: return "membership";
  }
  return "unknown";
}

std::string encode_committed(const Committed& c) {
  std::string out;
  Encoder(&out).u64(c.index).u32(static_cast<uint32_t>(c.status.code())).str(c.status.message()).str(c.out);
  return out;
}

Result<Committed> decode_committed(std::string_view payload) {
  Decoder in(payload);
  Committed c;
  c.index = in.u64();
  uint32_t code = in.u32();
  std::string msg(in.str());
  c.out = std::string(in.str());
  if (!in.ok() || code > static_cast<uint32_t>(ErrorCode::kNotPermitted))
    return corruption("malformed forward answer");
  if (code != 0) c.status = Status(static_cast<ErrorCode>(code), std::move(msg));
  return c;
}

std::string encode_keys(const std::vector<ChunkId>& keys) {
  std::string out;
  Encoder e(&out);
  e.u32(static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) e.raw(k.view());
  return out;
}

Status decode_keys(Decoder& in, std::vector<ChunkId>* keys) {
  uint32_t n = in.u32();
  if (!in.ok() || n > 65536) return invalid_argument("malformed chunk key list");
  keys->resize(n);
  for (auto& k : *keys)
    if (!ChunkId::from_view(in.raw(32), &k)) return invalid_argument("malformed chunk key list");
  if (!in.ok() || !in.done()) return invalid_argument("malformed chunk key list");
  return Status::ok();
}

Status decode_chunk_put(Decoder& in, std::vector<std::pair<ChunkId, std::string_view>>* pieces) {
  uint32_t n = in.u32();
  if (!in.ok() || n > 4096) return invalid_argument("malformed chunk put");
  pieces->resize(n);
  for (auto& [key, bytes] : *pieces) {
    std::string_view raw = in.raw(32);
    bytes = in.str();
    if (!in.ok() || !ChunkId::from_view(raw, &key)) return invalid_argument("malformed chunk put");
  }
  return Status::ok();
}

}  // namespace kiseki::cluster
