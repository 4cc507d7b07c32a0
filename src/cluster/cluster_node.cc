#include "cluster/cluster_node.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "cluster/fabric_service.h"
#include "common/file_util.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "crypto/primitives.h"
#include "namespace/delta.h"

namespace kiseki::cluster {

namespace {
constexpr uint64_t kShard = 0;  // one metadata shard holds every namespace (docs/cluster.md)
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
  std::string raft_dir = opts.data_dir + "/raft/shard-" + std::to_string(kShard);
  n->joined_now_ = !opts.join.empty() && !file_exists(raft_dir + "/metadata1") && !file_exists(raft_dir + "/metadata2");
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
  if (n->joined_now_) KISEKI_TRY(n->join_through(opts.join));
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
  if (server_) server_->stop();
  senders_.stop();
}

std::vector<uint64_t> ClusterNode::placement(const ChunkId& id) const {
  std::vector<std::pair<uint64_t, uint64_t>> scored;
  {
    std::lock_guard lock(nodes_mu_);
    for (const auto& [nid, info] : nodes_)
      if (info.state == NodeState::kActive)
        scored.emplace_back(XXH3_64bits_withSeed(id.bytes.data(), id.bytes.size(), nid), nid);
  }
  std::sort(scored.begin(), scored.end(), std::greater<>());
  std::vector<uint64_t> out;
  for (const auto& s : scored) out.push_back(s.second);
  return out;
}

// ---- the Gateway's side

Result<std::unique_ptr<log::Log>> ClusterNode::open_log(meta::Store* store, log::StateMachine* sm,
                                                        const log::LogOptions& lo) {
  RaftLogOptions ro;
  ro.shard = kShard;
  ro.node_id = opts_.node_id;
  ro.dir = opts_.data_dir + "/raft/shard-" + std::to_string(kShard);
  KISEKI_ASSIGN_OR_RETURN(ro.address, raft_address_of(opts_.listen));
  // Records applied here keep this node's cluster map current.
  KISEKI_TRY(load_map(*store));
  log::LogOptions lo2 = lo;
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
  if (opts_.join.empty())
    for (const auto& m : opts_.members) ro.initial.push_back({m.id, m.raft});
  ro.election_timeout_ms = opts_.election_timeout_ms;
  ro.heartbeat_ms = opts_.heartbeat_ms;
  ro.snapshot_threshold = opts_.snapshot_threshold;
  ro.snapshot_trailing = opts_.snapshot_trailing;
  ro.fetch_checkpoint = [this](uint64_t origin, uint64_t min_index, const std::string& dest) {
    std::vector<uint64_t> from{origin};
    for (const auto& m : nodes())
      if (m.id != origin) from.push_back(m.id);
    return fetch_checkpoint(peers_.get(), kShard, from, min_index, dest);
  };
  ro.forward = [this](uint64_t leader, std::string_view record, std::chrono::milliseconds deadline) -> Result<Committed> {
    std::string p;
    Encoder(&p).u64(kShard).raw(record);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(leader, FabricOp::kForward, p, deadline));
    return decode_committed(a);
  };
  ro.read_index = [this](uint64_t leader, std::chrono::milliseconds deadline) -> Result<uint64_t> {
    std::string p;
    Encoder(&p).u64(kShard);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(leader, FabricOp::kReadIndex, p, deadline));
    Decoder in(a);
    uint64_t idx = in.u64();
    if (!in.ok()) return corruption("malformed read index answer");
    return idx;
  };
  ro.confirm = [this](uint64_t node, uint64_t term, std::chrono::milliseconds deadline) -> Result<bool> {
    std::string p;
    Encoder(&p).u64(kShard).u64(term);
    KISEKI_ASSIGN_OR_RETURN(std::string a, peers_->call(node, FabricOp::kConfirm, p, deadline));
    return a.size() == 1 && a[0] == 1;
  };
  KISEKI_ASSIGN_OR_RETURN(auto raft, RaftLog::open(host_.get(), store, sm, lo2, ro));
  raft_.store(raft.get());
  // In the background: this node's own record in the map (once), and for a
  // node that just joined, its promotion to a voter once it has caught up.
  worker_ = std::thread([this] { membership_worker(); });
  return std::unique_ptr<log::Log>(std::move(raft));
}

void ClusterNode::serve_chunks(chunk::ChunkStore* chunks, meta::Store* store) {
  store_.store(store);
  chunks_.store(chunks);
}

// ---- the other nodes' side

Result<Committed> ClusterNode::forward(uint64_t shard, std::string_view record) {
  RaftLog* raft = raft_.load();
  if (!raft || shard != kShard) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return raft->propose(record);
}

Result<uint64_t> ClusterNode::read_index(uint64_t shard) {
  RaftLog* raft = raft_.load();
  if (!raft || shard != kShard) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return raft->leader_read_index();
}

bool ClusterNode::confirm(uint64_t shard, uint64_t caller, uint64_t term) {
  RaftLog* raft = raft_.load();
  return raft && shard == kShard && raft->follows(caller, term);
}

Result<std::string> ClusterNode::snapshot_open(uint64_t shard, uint64_t min_index,
                                               std::vector<CheckpointFile>* files) {
  RaftLog* raft = raft_.load();
  meta::Store* store = store_.load();
  if (!raft || !store || shard != kShard)
    return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  return snapshots_->open(store, raft->applied_index(), min_index, files);
}

Status ClusterNode::snapshot_read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max,
                                  std::string* out) {
  return snapshots_->read(token, file, offset, max, out);
}

void ClusterNode::snapshot_close(std::string_view token) { snapshots_->close(token); }

}  // namespace kiseki::cluster
