#include "cluster/cluster_node.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "cluster/fabric_service.h"
#include "common/file_util.h"
#include "common/host_port.h"
#include "common/logging.h"

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
  bool found = false;
  std::map<uint64_t, std::string> addrs;
  for (const auto& m : opts.members) {
    addrs[m.id] = m.fabric;
    found |= m.id == opts.node_id;
  }
  if (!found) return invalid_argument("--node-id " + std::to_string(opts.node_id) + " is not in --initial-cluster");
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
  KLOG_INFO("cluster node {} of {}: fabric on {} (port {})", opts.node_id, opts.members.size(), opts.listen,
            n->server_->port());
  return n;
}

ClusterNode::ClusterNode(const ClusterOptions& opts) : opts_(opts) {}

ClusterNode::~ClusterNode() { stop(); }

void ClusterNode::stop() {
  if (server_) server_->stop();
  senders_.stop();
}

std::vector<uint64_t> ClusterNode::placement(const ChunkId& id) const {
  std::vector<std::pair<uint64_t, uint64_t>> scored;
  for (const auto& m : opts_.members) scored.emplace_back(XXH3_64bits_withSeed(id.bytes.data(), id.bytes.size(), m.id), m.id);
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
  for (const auto& m : opts_.members) ro.initial.push_back({m.id, m.raft});
  ro.election_timeout_ms = opts_.election_timeout_ms;
  ro.heartbeat_ms = opts_.heartbeat_ms;
  ro.snapshot_threshold = opts_.snapshot_threshold;
  ro.snapshot_trailing = opts_.snapshot_trailing;
  ro.fetch_checkpoint = [this](uint64_t origin, uint64_t min_index, const std::string& dest) {
    std::vector<uint64_t> from{origin};
    for (const auto& m : opts_.members)
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
  KISEKI_ASSIGN_OR_RETURN(auto raft, RaftLog::open(host_.get(), store, sm, lo, ro));
  raft_.store(raft.get());
  return std::unique_ptr<log::Log>(std::move(raft));
}

void ClusterNode::serve_chunks(chunk::ChunkStore* chunks, meta::Store* store) {
  store_.store(store);
  chunks_.store(chunks);
}

namespace {
// One replicate call's progress, shared with the sends that outlive it.
struct CopyRound {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint32_t> acks;  // per chunk
  size_t sends_left = 0;
};
}  // namespace

Status ClusterNode::replicate(const std::vector<ChunkId>& ids) {
  if (opts_.members.size() == 1) return Status::ok();
  chunk::ChunkStore* chunks = chunks_.load();
  if (!chunks) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  size_t home = std::min<size_t>(opts_.replicas, opts_.members.size());
  uint32_t quorum = std::min<uint32_t>(opts_.write_quorum, static_cast<uint32_t>(home));
  auto round = std::make_shared<CopyRound>();
  round->acks.assign(ids.size(), 0);
  std::vector<std::vector<uint64_t>> ranked(ids.size());
  // The first sends: every home node but this one.
  std::map<uint64_t, std::vector<size_t>> by_node;
  std::vector<Bytes> sealed(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    KISEKI_TRY(chunks->read_sealed(ids[i], &sealed[i]));
    ranked[i] = placement(ids[i]);
    for (size_t r = 0; r < home; ++r) {
      if (ranked[i][r] == opts_.node_id) round->acks[i] = 1;  // this node's copy is durable already
      else by_node[ranked[i][r]].push_back(i);
    }
  }
  auto send = [&](uint64_t node, const std::vector<size_t>& which) {
    auto payload = std::make_shared<std::string>();
    Encoder e(payload.get());
    e.u32(static_cast<uint32_t>(which.size()));
    for (size_t i : which) e.raw(ids[i].view()).str(as_string_view(sealed[i]));
    {
      std::lock_guard lock(round->mu);
      ++round->sends_left;
    }
    copies_sent_->inc(which.size());
    senders_.post([this, round, node, which, payload] {
      auto r = peers_->call(node, FabricOp::kChunkPut, *payload, kChunkDeadline);
      if (!r) KLOG_DEBUG("chunk copies to node {}: {}", node, r.status().to_string());
      std::lock_guard lock(round->mu);
      if (r)
        for (size_t i : which) ++round->acks[i];
      --round->sends_left;
      round->cv.notify_all();
    });
  };
  auto short_of = [&](std::vector<size_t>* lacking) {
    lacking->clear();
    for (size_t i = 0; i < ids.size(); ++i)
      if (round->acks[i] < quorum) lacking->push_back(i);
  };
  for (const auto& [node, which] : by_node) send(node, which);
  std::vector<size_t> lacking;
  {
    // Answer once every chunk has its quorum; the other copies go on in the
    // background.
    std::unique_lock lock(round->mu);
    round->cv.wait(lock, [&] {
      short_of(&lacking);
      return lacking.empty() || round->sends_left == 0;
    });
  }
  // A home node did not answer: the next nodes in each chunk's ranking take a
  // copy (it stays where it lands until repair moves it home).
  for (size_t extra = home; !lacking.empty() && extra < opts_.members.size(); ++extra) {
    std::map<uint64_t, std::vector<size_t>> more;
    for (size_t i : lacking)
      if (ranked[i][extra] != opts_.node_id) more[ranked[i][extra]].push_back(i);
    for (const auto& [node, which] : more) send(node, which);
    std::unique_lock lock(round->mu);
    round->cv.wait(lock, [&] {
      short_of(&lacking);
      return lacking.empty() || round->sends_left == 0;
    });
  }
  if (!lacking.empty()) {
    quorum_lost_->inc();
    return make_error(ErrorCode::kUnavailable, "chunk " + ids[lacking[0]].hex() + ": fewer than " +
                                                   std::to_string(quorum) + " nodes hold a durable copy");
  }
  {
    std::lock_guard lock(round->mu);
    for (size_t i = 0; i < ids.size(); ++i)
      if (round->acks[i] < home && round->sends_left == 0) degraded_writes_->inc();
  }
  return Status::ok();
}

Status ClusterNode::fetch(const ChunkId& id, Bytes* sealed) {
  Status last = not_found("no other node holds chunk " + id.hex());
  for (uint64_t node : placement(id)) {
    if (node == opts_.node_id) continue;
    auto r = peers_->call(node, FabricOp::kChunkGet, id.view(), kChunkDeadline);
    if (!r) {
      last = r.status();
      continue;
    }
    sealed->assign(r->begin(), r->end());
    fetched_->inc();
    return Status::ok();
  }
  return last;
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

Status ClusterNode::put_chunks(const std::vector<std::pair<ChunkId, std::string_view>>& chunks) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  for (const auto& [id, sealed] : chunks) KISEKI_TRY(cs->adopt(id, as_bytes(sealed)).status());
  return persist_adopted();
}

Status ClusterNode::persist_adopted() {
  return persist_round_.run([this] {
    chunk::ChunkStore* cs = chunks_.load();
    // The bytes first, then their locations (write order on this node).
    Status st = cs->segments()->sync_all(true);
    if (st.is_ok()) st = cs->flush_local();
    if (st.is_ok()) st = store_.load()->sync_wal();
    return st;
  });
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

Status ClusterNode::get_chunk(const ChunkId& id, Bytes* sealed) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  if (cs->locate(id).code() == ErrorCode::kNotFound) return not_found("chunk " + id.hex() + " has no copy here");
  return cs->read_sealed(id, sealed);
}

std::string ClusterNode::cluster_status_json() {
  std::string nodes;
  for (const auto& m : opts_.members) {
    std::string one;
    if (m.id == opts_.node_id) {
      one = status_json();
    } else if (auto r = peers_->call(m.id, FabricOp::kStatus, {}, std::chrono::milliseconds(1000))) {
      one = *r;
    } else {
      one = fmt::format("{{\"node\":{},\"fabric\":\"{}\",\"reachable\":false,\"error\":\"{}\"}}", m.id, m.fabric,
                        r.status().code() == ErrorCode::kTimeout ? "timeout" : "unreachable");
    }
    if (one.size() > 1 && one.back() == '}' && one.find("\"reachable\"") == std::string::npos)
      one.insert(one.size() - 1, ",\"reachable\":true");
    nodes += (nodes.empty() ? "" : ",") + one;
  }
  std::string shards = "[]";
  if (RaftLog* raft = raft_.load()) {
    RaftShardStatus s = raft->status();
    shards = fmt::format("[{{\"shard\":{},\"leader\":{},\"term\":{},\"commit_index\":{},\"seen_from\":{}}}]", s.shard,
                         s.leader, s.term, s.commit_index, opts_.node_id);
  }
  return fmt::format("{{\"node\":{},\"nodes\":[{}],\"shards\":{},\"chunks_degraded\":{},\"quorum_lost\":{}}}",
                     opts_.node_id, nodes, shards, degraded_writes_->value(), quorum_lost_->value());
}

std::string ClusterNode::status_json() {
  std::string out = fmt::format("{{\"node\":{},\"fabric\":\"{}\",\"members\":[", opts_.node_id, opts_.listen);
  for (size_t i = 0; i < opts_.members.size(); ++i)
    out += fmt::format("{}{{\"id\":{},\"fabric\":\"{}\"}}", i ? "," : "", opts_.members[i].id, opts_.members[i].fabric);
  out += "],\"shards\":[";
  if (RaftLog* raft = raft_.load()) {
    RaftShardStatus s = raft->status();
    out += fmt::format("{{\"shard\":{},\"role\":\"{}\",\"leader\":{},\"term\":{},\"commit_index\":{},"
                       "\"applied_index\":{},\"last_index\":{},\"match\":{{",
                       s.shard, s.role, s.leader, s.term, s.commit_index, s.applied_index, s.last_index);
    for (size_t i = 0; i < s.match.size(); ++i)
      out += fmt::format("{}\"{}\":{}", i ? "," : "", s.match[i].first, s.match[i].second);
    out += "}}";
  }
  out += "]}";
  return out;
}

}  // namespace kiseki::cluster
