// One node of a Kiseki cluster: its fabric server and peers, the Raft log of
// the metadata shard, the cluster map, and the copies of chunks on other
// nodes. The Gateway sees it as its Replication (gateway/replication.h); the
// other nodes see it as a FabricHandler (fabric.h). docs/cluster.md describes
// the whole. Its parts live in files by concern: cluster_node.cc (start, the
// log, the fabric calls), chunk_copies.cc (replicated chunks) and
// membership.cc (the map, join, promote, drain, remove, status).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_map.h"
#include "cluster/fabric.h"
#include "cluster/fault_switch.h"
#include "cluster/peers.h"
#include "cluster/placement.h"
#include "cluster/repair_plan.h"
#include "cluster/raft_host.h"
#include "cluster/raft_log.h"
#include "cluster/snapshot_transfer.h"
#include "common/redundancy.h"
#include "common/shared_round.h"
#include "common/thread_pool.h"
#include "gateway/replication.h"
#include "net/record_server.h"

namespace kiseki::cluster {

struct ClusterMember {
  uint64_t id = 0;
  std::string fabric;  // "a.b.c.d:port" (--cluster-listen)
  std::string raft;    // the same host, port + 1
};

// Parses --initial-cluster: "1=HOST:PORT,2=HOST:PORT,...".
Result<std::vector<ClusterMember>> parse_initial_cluster(std::string_view spec);
// The Raft address of a fabric address (port + 1).
Result<std::string> raft_address_of(std::string_view fabric);

struct ClusterOptions {
  uint64_t node_id = 0;
  std::string listen;  // this node's fabric address
  // The first members (--initial-cluster), or none with `join`.
  std::vector<ClusterMember> members;
  // A running node's fabric address to join the cluster through (--join).
  std::string join;
  std::string secret;   // the cluster secret's bytes
  std::string data_dir; // the node's data directory (Raft files go under DATA/raft)
  // How chunks are kept where a namespace says nothing (written before
  // policies existed): --default-durability.
  Redundancy default_redundancy = Redundancy::replicas(3);
  std::string failure_domain;  // --failure-domain; empty: the node alone
  uint32_t weight = 0;         // capacity in GiB (--capacity-gib); 0: the data file system's size
  unsigned repair_interval_ms = 30000;  // between two repair passes (--repair-interval-ms)
  double repair_rate_mib = 0;           // MiB/s of rebuilt bytes at most; 0: no bound (--repair-rate-mib)
  unsigned node_lost_after_s = 0;       // a node silent this long is removed; 0: only by an operator
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_ms = 100;
  unsigned snapshot_threshold = 8192;  // Raft entries between snapshots
  unsigned snapshot_trailing = 2048;   // entries kept behind a snapshot
  // Metadata shards (ADR 0009) of a new cluster (--shards); a node that joins
  // learns the cluster's, a node that restarts keeps its own.
  uint32_t shards = 1;
};

// The most shards a cluster may have.
constexpr uint32_t kMaxShards = 64;
// The root shard: the cluster map, tenants, keys, the namespace catalog (ADR 0009).
constexpr uint64_t kRootShard = 0;

// A node as `kiseki node list` shows it.
struct NodeView {
  NodeInfo info;
  std::string raft_role;  // voter, standby, spare; "" when not in the Raft configuration
  bool leader = false;
};

class ClusterNode final : public gateway::Replication, public FabricHandler {
 public:
  // Starts the fabric server (and with `join`, joins through another node);
  // the Raft log starts when the Gateway opens it.
  static Result<std::unique_ptr<ClusterNode>> start(const ClusterOptions& opts);
  ~ClusterNode() override;
  uint16_t fabric_port() const { return server_->port(); }
  // Stops serving the fabric (before the Gateway closes).
  void stop();

  // ---- gateway::Replication
  uint32_t shards() const override { return shards_; }
  Result<std::unique_ptr<log::Log>> open_log(uint32_t shard, meta::Store* store, log::StateMachine* sm,
                                             const log::LogOptions& opts) override;
  void serve_chunks(chunk::ChunkStore* chunks, meta::Store* store) override;
  Status replicate(const std::vector<ChunkId>& ids, const Redundancy& form) override;
  Status fetch(const ChunkId& id, Bytes* sealed) override;
  bool keeps(const ChunkId& id) const override;
  Redundancy default_redundancy() const override { return opts_.default_redundancy; }
  Status can_place(const Redundancy& form) const override;
  std::string master_seed() const override { return keys_.master_seed; }

  // ---- FabricHandler
  Result<Committed> forward(uint64_t shard, std::string_view record) override;
  Result<uint64_t> read_index(uint64_t shard) override;
  bool confirm(uint64_t shard, uint64_t caller, uint64_t term) override;
  Status put_chunks(const std::vector<std::pair<ChunkId, std::string_view>>& chunks) override;
  Status get_chunk(const ChunkId& id, Bytes* sealed) override;
  Result<std::string> has_chunks(const std::vector<ChunkId>& keys) override;
  Status drop_chunks(const std::vector<ChunkId>& keys) override;
  Result<std::string> get_chunks(const std::vector<ChunkId>& keys) override;
  std::string status_json() override;
  Result<std::string> snapshot_open(uint64_t shard, uint64_t min_index, std::vector<CheckpointFile>* files) override;
  Status snapshot_read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max,
                       std::string* out) override;
  void snapshot_close(std::string_view token) override;
  Result<std::string> membership(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric) override;

  // ---- membership (membership.cc); on any node: they run on each shard's
  // leader (a node joins through join_through, at start)
  // Makes a caught-up standby a voter.
  Status promote(uint64_t id);
  // No new chunks placed on it, and leadership moves away from it.
  Status drain(uint64_t id);
  // Out of the Raft configuration and the map (its id is not used again).
  Status remove(uint64_t id);
  std::vector<NodeView> list_nodes();

  // The whole cluster as this node sees it (kiseki cluster status --json): every
  // member's own view ("nodes"), the shards, and chunks written with fewer
  // copies than their target ("chunks_degraded").
  std::string cluster_status_json();

  // The active nodes as placement sees them (placement.h).
  std::vector<PlacementNode> placement_nodes() const;
  // How a chunk is kept: what its reference records (kLegacyRedundancy if nothing).
  Redundancy form_of(const ChunkId& id) const;
  // Every node of the map but removed ones.
  std::vector<NodeInfo> nodes() const;

  // ---- repair (repair.cc)
  // One pass over every referenced chunk this node is responsible for:
  // missing slots rebuilt, strays dropped once the chunk is whole. Runs in the
  // background; an operator or test may ask for one now.
  struct RepairStats;
  RepairStats repair_pass();
  // Rebuilds this node's own copies and fragments that scrub found damaged.
  Status heal(const std::vector<ChunkId>& damaged) override;
  // The repair service's progress, as JSON (kiseki cluster status).
  std::string repair_json() const;
  // Every referenced chunk, looked up on every node now (not counted by the
  // repair service): JSON with chunks, whole (each slot on its home), short,
  // unreadable (fewer distinct slots than needed), strays, and the records
  // each node holds.
  Result<std::string> census();
  // Wakes the repair service now (a map change, an operator's call).
  void wake_repair();

  // Tests only (--test-faults): cuts this node off from `nodes` (empty: heals).
  FaultSwitch* faults() { return &faults_; }

 private:
  explicit ClusterNode(const ClusterOptions& opts);
  // Makes every chunk adopted so far durable, its location too (concurrent
  // callers share one round of syncs).
  Status persist_adopted();
  // Calls to several nodes at once (this node's own answered here); one
  // result per call, in order.
  struct NodeCall {
    uint64_t node;
    FabricOp op;
    std::string payload;
  };
  // A round of calls under way; `out[i]` is set once call i has answered.
  struct CallRound {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<NodeCall> calls;  // fixed once started
    std::vector<std::optional<Result<std::string>>> out;
    size_t left = 0;
  };
  struct CallDone;
  std::shared_ptr<CallRound> start_calls(std::vector<NodeCall> calls, std::chrono::milliseconds deadline);
  // Every call answered (`calls` back as they were).
  std::vector<Result<std::string>> call_all(std::vector<NodeCall>& calls, std::chrono::milliseconds deadline);
  Result<std::string> call_here(FabricOp op, std::string_view payload);
  // An erasure-coded chunk's sealed bytes from any K good fragments.
  Status gather(const ChunkId& id, const Redundancy& form, std::string* sealed);
  // Every chunk some shard here counts (once), with its redundancy, until
  // `fn` says stop.
  Status for_each_chunk(const std::function<bool(const ChunkId&, const Redundancy&)>& fn);
  // A chunk found short of its slots (a write, a read): repair looks at it first.
  void note_degraded(const ChunkId& id);
  void repair_worker();
  // The members that answer a call now.
  std::set<uint64_t> reachable(const std::vector<NodeInfo>& members);
  // On the root shard's leader: removes the nodes that have not answered for
  // --node-lost-after-s.
  void declare_lost(std::map<uint64_t, std::chrono::steady_clock::time_point>* down_since);
  // Asks every node in `live` which of the chunks' keys it holds (fills
  // `held`); with `every_node`, a node that does not answer is an error.
  Status look_up(std::vector<ChunkView>* chunks, const std::set<uint64_t>& live, bool every_node);
  Status repair_batch(const std::vector<std::pair<ChunkId, Redundancy>>& batch,
                      const std::vector<PlacementNode>& active, const std::set<uint64_t>& live,
                      RepairStats* stats);
  // The map: what a kSetNode record applied here sets, what the store holds.
  void learn(const NodeInfo& n, bool if_absent);
  Status load_map(const meta::Store& store);
  // Submits a record through the shard's log (a cluster map change).
  Status submit_node(const NodeInfo& n, bool if_absent);
  // Runs `op` for `shard` where its leader is: here, or over the fabric.
  Result<std::string> on_leader(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric);
  // The same on every shard, the root first (a member is in every group).
  Result<std::string> on_every_leader(MembershipOp op, uint64_t id, std::string_view fabric);
  RaftLog* raft(uint64_t shard) const { return shard < shards_ ? rafts_[shard].load() : nullptr; }
  RaftLog* root() const { return rafts_[0].load(); }
  // Joins the cluster through the node at `fabric` (--join): the leader adds
  // this node as a standby and answers with the map.
  Status join_through(const std::string& fabric);
  // Registers this node in the map once, and promotes a node that just joined
  // to a voter once it has caught up with the leader.
  void membership_worker();
  // The leader's side of membership calls, for one shard.
  Result<std::string> membership_here(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric);

  ClusterOptions opts_;
  ClusterKeys keys_;
  FaultSwitch faults_;
  std::unique_ptr<RaftHost> host_;  // the loop of this node's Raft groups
  std::unique_ptr<Peers> peers_;
  std::unique_ptr<net::RecordServer> server_;
  std::unique_ptr<class FabricService> service_;
  std::unique_ptr<SnapshotSource> snapshots_;
  ThreadPool senders_{64};  // chunk copies go to the other nodes in parallel

  mutable std::mutex nodes_mu_;  // guards nodes_
  std::map<uint64_t, NodeInfo> nodes_;
  bool joined_now_ = false;   // this start joined the cluster (no Raft state before)
  uint64_t join_commit_ = 0;  // the leader's commit index when it took this node in

  uint32_t shards_ = 1;
  // Set once the Gateway has opened them; calls before answer kUnavailable.
  std::array<std::atomic<RaftLog*>, kMaxShards> rafts_{};
  std::array<std::atomic<meta::Store*>, kMaxShards> shard_stores_{};  // each shard's store
  std::atomic<chunk::ChunkStore*> chunks_{nullptr};
  std::atomic<meta::Store*> store_{nullptr};  // the chunk locations' (the root shard's)

  uint64_t client_id_ = 0;  // request ids of this node's own records
  std::atomic<uint64_t> next_seq_{1};
  std::thread worker_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;

  SharedRound<Status> persist_round_{Status::ok()};
  // Copies that arrived, pinned for a while (put_chunks), oldest first.
  std::mutex grace_mu_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, chunk::PreparedChunk>> grace_;

  Counter* quorum_lost_;
  Counter* copies_sent_;
  Counter* degraded_writes_;
  Counter* fetched_;
  Counter* degraded_reads_;

  // The repair service (repair.cc).
  std::thread repairer_;
  std::mutex pass_mu_;            // one repair pass at a time
  mutable std::mutex repair_mu_;  // guards the fields below
  std::condition_variable repair_cv_;
  bool repair_wake_ = false;
  bool stopping_repair_ = false;
  std::set<ChunkId> repair_hints_;  // chunks seen short, looked at first
  std::unique_ptr<RepairStats> repair_last_, repair_now_;
  uint64_t repair_passes_ = 0;
  Counter* repaired_slots_;
  Counter* repaired_bytes_;
  Counter* dropped_strays_;
  Counter* declared_lost_;
  Gauge* chunks_degraded_;
  Gauge* repair_bytes_left_;
};

// What a repair pass found and did.
struct ClusterNode::RepairStats {
  uint64_t chunks = 0;           // referenced chunks this node is responsible for
  uint64_t degraded = 0;         // of them, short of a slot when looked at
  uint64_t unreadable = 0;       // fewer good slots than needed: nothing rebuilds them
  uint64_t bytes_to_repair = 0;  // the bytes of the slots missing when looked at
  uint64_t repaired = 0;         // slots rebuilt
  uint64_t repaired_bytes = 0;
  uint64_t repaired_chunks = 0;  // chunks with a slot rebuilt
  uint64_t strays_dropped = 0;   // copies dropped from nodes placement no longer names
  double seconds = 0;
  bool done = false;
};

}  // namespace kiseki::cluster
