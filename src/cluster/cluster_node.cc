#include <sys/statvfs.h>

#include "cluster/cluster_node.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "cluster/fabric_service.h"
#include "common/file_util.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "crypto/primitives.h"
#include "namespace/delta.h"

namespace kiseki::cluster {

namespace {
constexpr auto kChunkDeadline = std::chrono::milliseconds(5000);
}  // namespace

Result<std::string> raft_address_of(std::string_view fabric) {
  KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(fabric));
  if (hp.second == 0 || hp.second == 65535) return invalid_argument("a cluster port must lie in 1..65534");
  return hp.first + ":" + std::to_string(hp.second + 1);
}

Result<std::vector<ClusterMember>> parse_initial_cluster(std::string_view spec) {
  std::vector<ClusterMember> out;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return invalid_argument("--initial-cluster: '" + std::string(item) + "' is not ID=HOST:PORT");
    ClusterMember m;
    auto id = item.substr(0, eq);
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), m.id);
    if (ec != std::errc() || p != id.data() + id.size() || m.id == 0)
      return invalid_argument("--initial-cluster: node id '" + std::string(id) + "' is not a number above 0");
    m.fabric = std::string(item.substr(eq + 1));
    KISEKI_ASSIGN_OR_RETURN(m.raft, raft_address_of(m.fabric));
    for (const auto& o : out)
      if (o.id == m.id || o.fabric == m.fabric)
        return invalid_argument("--initial-cluster names node " + std::to_string(m.id) + " or " + m.fabric + " twice");
    out.push_back(std::move(m));
  }
  if (out.empty()) return invalid_argument("--initial-cluster is empty");
  return out;
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::start(const ClusterOptions& opts) {
  std::unique_ptr<ClusterNode> n(new ClusterNode(opts));
  KISEKI_ASSIGN_OR_RETURN(n->keys_, ClusterKeys::from_secret(opts.secret));
  std::map<uint64_t, std::string> addrs;
  if (opts.join.empty()) {
    bool found = false;
    for (const auto& m : opts.members) {
      addrs[m.id] = m.fabric;
      n->nodes_[m.id] = NodeInfo{m.id, m.fabric, NodeState::kActive};
      found |= m.id == opts.node_id;
    }
    if (!found) return invalid_argument("--node-id " + std::to_string(opts.node_id) + " is not in --initial-cluster");
  } else {
    n->nodes_[opts.node_id] = NodeInfo{opts.node_id, opts.listen, NodeState::kActive};
  }
  // A data directory belongs to one node of one cluster: a single node's
  // store, or another node's, does not silently become this one.
  KISEKI_TRY(make_dirs(opts.data_dir));
  if (n->opts_.weight == 0) {
    // Placement's weight: the data directory's file system, in GiB.
    struct statvfs sv {};
    n->opts_.weight = ::statvfs(opts.data_dir.c_str(), &sv) == 0
                          ? static_cast<uint32_t>(std::max<uint64_t>(1, uint64_t{sv.f_blocks} * sv.f_frsize >> 30))
                          : 1;
  }
  std::string marker = opts.data_dir + "/cluster-node";
  if (file_exists(marker)) {
    KISEKI_ASSIGN_OR_RETURN(std::string had, read_file(marker));
    if (had != std::to_string(opts.node_id) + "\n")
      return invalid_argument(opts.data_dir + " is the data directory of cluster node " + had.substr(0, had.find('\n')) +
                              ", not of node " + std::to_string(opts.node_id));
  } else {
    if (file_exists(opts.data_dir + "/meta"))
      return invalid_argument(opts.data_dir + " holds a single node's store; a cluster node starts on a new directory");
    KISEKI_TRY(write_file_atomic(marker, std::to_string(opts.node_id) + "\n", 0644));
  }
  // --join takes effect once: a node with Raft state of its own is a member.
  std::string raft_dir = opts.data_dir + "/raft/shard-" + std::to_string(kRootShard);
  n->joined_now_ = !opts.join.empty() && !file_exists(raft_dir + "/metadata1") && !file_exists(raft_dir + "/metadata2");
  // How many shards: this node's own record of it once it has one.
  std::string count_file = opts.data_dir + "/raft/shards";
  if (file_exists(count_file)) {
    KISEKI_ASSIGN_OR_RETURN(std::string text, read_file(count_file));
    n->shards_ = static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
    if (n->shards_ == 0 || n->shards_ > kMaxShards) return corruption(count_file + " is damaged");
    if (opts.shards != 1 && opts.shards != n->shards_)
      return invalid_argument("this node's cluster has " + std::to_string(n->shards_) + " shards, not --shards " +
                              std::to_string(opts.shards) + " (the count is fixed when the cluster is made)");
  } else {
    if (opts.shards == 0 || opts.shards > kMaxShards)
      return invalid_argument("--shards must lie in 1.." + std::to_string(kMaxShards));
    n->shards_ = opts.shards;  // a joining node learns the cluster's below
  }
  uint8_t id[8];
  crypto::random_bytes(id);
  n->client_id_ = get_be64(id) | 1;
  RaftTransportOptions to;
  to.node_id = opts.node_id;
  KISEKI_ASSIGN_OR_RETURN(to.listen, raft_address_of(opts.listen));
  to.key = n->keys_.fabric;
  to.faults = &n->faults_;
  KISEKI_ASSIGN_OR_RETURN(n->host_, RaftHost::start(to));
  n->peers_ = std::make_unique<Peers>(opts.node_id, n->keys_.fabric, addrs, &n->faults_);
  n->snapshots_ = std::make_unique<SnapshotSource>(opts.data_dir + "/raft/outgoing");
  n->service_ = std::make_unique<FabricService>(opts.node_id, n->keys_.fabric, n.get(), &n->faults_);
  net::RecordServerOptions so;
  so.listen = opts.listen;
  so.name = "fabric";
  so.workers = 32;
  KISEKI_ASSIGN_OR_RETURN(n->server_, net::RecordServer::start(n->service_.get(), so));
  auto& m = MetricsRegistry::global();
  n->quorum_lost_ = m.counter("kiseki_fabric_quorum_lost_total", "Chunk writes that did not reach their write quorum");
  n->copies_sent_ = m.counter("kiseki_fabric_chunk_copies_total", "Chunk copies sent to other nodes");
  n->degraded_writes_ =
      m.counter("kiseki_chunks_written_degraded_total", "Chunks acknowledged with fewer copies than their target");
  n->fetched_ = m.counter("kiseki_fabric_chunk_fetches_total", "Chunks read from another node's copy");
  n->degraded_reads_ =
      m.counter("kiseki_chunk_degraded_reads_total", "Erasure-coded chunk reads that had to decode from parity");
  n->repaired_slots_ = m.counter("kiseki_repair_slots_total", "Copies and fragments rebuilt by repair and heal");
  n->repaired_bytes_ = m.counter("kiseki_repair_bytes_total", "Bytes of copies and fragments rebuilt");
  n->dropped_strays_ = m.counter("kiseki_repair_strays_dropped_total",
                                 "Copies and fragments dropped from nodes placement no longer names (rebalancing)");
  n->declared_lost_ = m.counter("kiseki_cluster_nodes_declared_lost_total",
                                "Nodes removed by the root shard's leader after --node-lost-after-s without an answer");
  n->chunks_degraded_ =
      m.gauge("kiseki_chunks_degraded", "Chunks this node answers for that the last repair pass found short and did not rebuild");
  n->repair_bytes_left_ = m.gauge("kiseki_repair_bytes_left", "Bytes the last repair pass found missing and did not rebuild");
  if (n->joined_now_) KISEKI_TRY(n->join_through(opts.join));
  if (!file_exists(count_file)) {
    KISEKI_TRY(make_dirs(opts.data_dir + "/raft"));
    KISEKI_TRY(write_file_atomic(count_file, std::to_string(n->shards_) + "\n", 0644));
  }
  KLOG_INFO("cluster node {}: fabric on {} (port {}), {} nodes known", opts.node_id, opts.listen, n->server_->port(),
            n->nodes().size());
  return n;
}

ClusterNode::ClusterNode(const ClusterOptions& opts) : opts_(opts) {}

ClusterNode::~ClusterNode() { stop(); }

void ClusterNode::stop() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard lock(repair_mu_);
    stopping_repair_ = true;
    repair_cv_.notify_all();
  }
  if (repairer_.joinable()) repairer_.join();
  if (server_) server_->stop();
  senders_.stop();
  // The pins of copies that arrived point into the chunk store, which closes
  // with the Gateway after this.
  std::lock_guard lock(grace_mu_);
  grace_.clear();
}

// ---- the Gateway's side

Result<std::unique_ptr<log::Log>> ClusterNode::open_log(uint32_t shard, meta::Store* store, log::StateMachine* sm,
                                                        const log::LogOptions& lo) {
  if (shard >= shards_) return invalid_argument("no shard " + std::to_string(shard));
  RaftLogOptions ro;
  ro.shard = shard;
  ro.node_id = opts_.node_id;
  ro.dir = opts_.data_dir + "/raft/shard-" + std::to_string(shard);
  KISEKI_ASSIGN_OR_RETURN(ro.address, raft_address_of(opts_.listen));
  log::LogOptions lo2 = lo;
  if (shard == kRootShard) {
    // Records applied here keep this node's cluster map current.
    KISEKI_TRY(load_map(*store));
    lo2.on_apply = [this, tap = lo.on_apply](std::string_view record) {
      if (tap) tap(record);
      if (auto n = node_of_record(record)) learn(n->first, n->second);
      // A crypto-shred: no checkpoint made for another node keeps the state
      // it erases (snapshot_transfer.h).
      if (ns::first_op(record) == static_cast<uint8_t>(ns::Op::kSetTenant)) snapshots_->drop_all();
    };
    lo2.on_reset = [this, store, tap = lo.on_reset] {
      if (Status st = load_map(*store); !st) KLOG_ERROR("cluster map after a snapshot: {}", st.to_string());
      if (tap) tap();
    };
  }
  if (opts_.join.empty())
    for (const auto& m : opts_.members) ro.initial.push_back({m.id, m.raft});
  ro.election_timeout_ms = opts_.election_timeout_ms;
  ro.heartbeat_ms = opts_.heartbeat_ms;
  ro.snapshot_threshold = opts_.snapshot_threshold;
  ro.snapshot_trailing = opts_.snapshot_trailing;
  ro.fetch_checkpoint = [this, shard](uint64_t origin, uint64_t min_index, const std::string& dest) {
    std::vector<uint64_t> from{origin};
    for (const auto& m : nodes())
      if (m.id != origin) from.push_back(m.id);
    return fetch_checkpoint(peers_.get(), shard, from, min_index, dest);
  };
  ro.forward = [this, shard](uint64_t leader, std::string_view record,
                             std::chrono::milliseconds deadline) -> Result<Committed> {
    std::string p;
    Encoder(&p).u64(shard).raw(record);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(leader, FabricOp::kForward, p, deadline));
    return decode_committed(a);
  };
  ro.read_index = [this, shard](uint64_t leader, std::chrono::milliseconds deadline) -> Result<uint64_t> {
    std::string p;
    Encoder(&p).u64(shard);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(leader, FabricOp::kReadIndex, p, deadline));
    Decoder in(a);
    uint64_t idx = in.u64();
    if (!in.ok()) return corruption("malformed read index answer");
    return idx;
  };
  ro.confirm = [this, shard](uint64_t node, uint64_t term, std::chrono::milliseconds deadline) -> Result<bool> {
    std::string p;
    Encoder(&p).u64(shard).u64(term);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(node, FabricOp::kConfirm, p, deadline));
    return a.size() == 1 && a[0] == 1;
  };
  KISEKI_ASSIGN_OR_RETURN(auto raft, RaftLog::open(host_.get(), store, sm, lo2, ro));
  shard_stores_[shard].store(store);
  if (shard + 1 < shards_ || shards_ == 1) rafts_[shard].store(raft.get());
  if (shard + 1 == shards_) {
    // Every shard is open. Nodes that split namespaces over different counts
    // of shards would apply records differently: the first count recorded in
    // the root shard is the cluster's, and a node with another stops here.
    ns::Delta d;
    d.op = ns::Op::kInitSecret;
    d.name = "shard-count";
    d.blob = std::to_string(shards_);
    KISEKI_ASSIGN_OR_RETURN(std::string count,
                            root()->submit(ns::encode_record({d}, RequestId{client_id_, next_seq_.fetch_add(1)})));
    if (count != d.blob) {
      if (shards_ == 1) rafts_[shard].store(nullptr);
      return invalid_argument("the cluster has " + count + " metadata shards, this node " + d.blob +
                              " (--shards must be the same on every first node)");
    }
    rafts_[shard].store(raft.get());
    // In the background: this node's own record in the map (once), and for a
    // node that just joined, its promotion to a voter once caught up.
    worker_ = std::thread([this] { membership_worker(); });
  }
  return std::unique_ptr<log::Log>(std::move(raft));
}

void ClusterNode::serve_chunks(chunk::ChunkStore* chunks, meta::Store* store) {
  store_.store(store);
  chunks->set_partial(true);  // placement gives this node some chunks, not all
  chunks_.store(chunks);
  if (!repairer_.joinable()) repairer_ = std::thread([this] { repair_worker(); });
}

// ---- the other nodes' side

Result<Committed> ClusterNode::forward(uint64_t shard, std::string_view record) {
  RaftLog* r = raft(shard);
  if (!r) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return r->propose(record);
}

Result<uint64_t> ClusterNode::read_index(uint64_t shard) {
  RaftLog* r = raft(shard);
  if (!r) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return r->leader_read_index();
}

bool ClusterNode::confirm(uint64_t shard, uint64_t caller, uint64_t term) {
  RaftLog* r = raft(shard);
  return r && r->follows(caller, term);
}

Result<std::string> ClusterNode::snapshot_open(uint64_t shard, uint64_t min_index,
                                               std::vector<CheckpointFile>* files) {
  RaftLog* r = raft(shard);
  meta::Store* store = shard < shards_ ? shard_stores_[shard].load() : nullptr;
  if (!r || !store) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return snapshots_->open(store, r->applied_index(), min_index, files);
}

Status ClusterNode::snapshot_read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max,
                                  std::string* out) {
  return snapshots_->read(token, file, offset, max, out);
}

void ClusterNode::snapshot_close(std::string_view token) { snapshots_->close(token); }

}  // namespace kiseki::cluster
