// The cluster fabric: node-to-node calls in native frames (net/frame.h) on the
// port of --cluster-listen. A connection proves both ends know the cluster
// secret before anything else is taken (docs/cluster.md):
//
//   kHello  u64 node id · 32 B client nonce  →  u64 node id · 32 B server nonce · 32 B server proof
//   kAuth   32 B client proof                →  (empty)
//
// proofs are HMAC-SHA256 under a key derived from the secret, over a label,
// both nonces and the prover's node id; a node never answers a call of a
// connection that has not passed kAuth.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/raft_log.h"
#include "cluster/snapshot_types.h"
#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::cluster {

enum class FabricOp : uint16_t {
  kHello = 1,
  kAuth = 2,
  kForward = 10,    // u64 shard · record → u64 index · u32 code · str message · str out
  kReadIndex = 11,  // u64 shard → u64 index
  kConfirm = 12,    // u64 shard · u64 term → u8 (1: the callee follows the caller in that term)
  kChunkPut = 20,   // u32 n · n × (32 B id · str sealed) → (empty, once every chunk is durable here)
  kChunkGet = 21,   // 32 B id → sealed record (or fragment record: the ids of ids.h)
  kChunkHas = 22,   // u32 n · n × 32 B id → n × u32: the record's length where this node holds it, else 0
  kChunkDrop = 23,  // u32 n · n × 32 B id → (empty, once dropped here: rebalancing)
  kChunkGetMany = 24,  // u32 n · n × 32 B id → n × (u32 length, 0: none here · record)
  kStatus = 30,     // → JSON: this node's view (cluster status)
  kSnapshotOpen = 40,   // snapshot_transfer.h
  kSnapshotRead = 41,
  kSnapshotClose = 42,
  kMembership = 50,  // u8 MembershipOp · u64 shard · u64 node id · str fabric address → per op (membership.cc)
};

// "forward", "chunk_put", ... (metric labels, logs).
const char* fabric_op_name(FabricOp op);

enum class MembershipOp : uint8_t { kJoin = 1, kPromote = 2, kDrain = 3, kRemove = 4 };

// The cluster secret's derived keys: one for fabric proofs, one for the
// master key epoch every node seals chunks under.
struct ClusterKeys {
  crypto::SecretKey fabric;
  std::string master_seed;
  static Result<ClusterKeys> from_secret(std::string_view secret);
};

enum class ProofRole : uint8_t { kServer = 1, kClient = 2 };
std::string fabric_proof(const crypto::SecretKey& key, ProofRole role, std::string_view nonce_a,
                         std::string_view nonce_b, uint64_t node);

// What a node does for the calls of the others.
class FabricHandler {
 public:
  virtual ~FabricHandler() = default;
  virtual Result<Committed> forward(uint64_t shard, std::string_view record) = 0;
  virtual Result<uint64_t> read_index(uint64_t shard) = 0;
  virtual bool confirm(uint64_t shard, uint64_t caller, uint64_t term) = 0;
  virtual Status put_chunks(const std::vector<std::pair<ChunkId, std::string_view>>& chunks) = 0;
  virtual Status get_chunk(const ChunkId& id, Bytes* sealed) = 0;
  virtual Result<std::string> has_chunks(const std::vector<ChunkId>& keys) = 0;
  virtual Status drop_chunks(const std::vector<ChunkId>& keys) = 0;
  virtual Result<std::string> get_chunks(const std::vector<ChunkId>& keys) = 0;
  virtual std::string status_json() = 0;
  // A checkpoint of the shard's state for a node installing a snapshot
  // (snapshot_transfer.h): its token and files.
  virtual Result<std::string> snapshot_open(uint64_t shard, uint64_t min_index, std::vector<CheckpointFile>* files) = 0;
  virtual Status snapshot_read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max,
                               std::string* out) = 0;
  virtual void snapshot_close(std::string_view token) = 0;
  // A change of the cluster's members, run on the leader.
  virtual Result<std::string> membership(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric) = 0;
};

std::string encode_committed(const Committed& c);
// The payload of kChunkHas and kChunkDrop.
std::string encode_keys(const std::vector<ChunkId>& keys);
Status decode_keys(Decoder& in, std::vector<ChunkId>* keys);
// The payload of kChunkPut: the pieces are views into `in`'s bytes.
Status decode_chunk_put(Decoder& in, std::vector<std::pair<ChunkId, std::string_view>>* pieces);
Result<Committed> decode_committed(std::string_view payload);

}  // namespace kiseki::cluster
