// The cluster's members: the map every node keeps from kSetNode records, and
// the changes operators make (docs/cluster.md#members): join (a Raft standby
// first, a voter once caught up), drain, remove; and the status views.
#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cluster/cluster_node.h"
#include "common/logging.h"

namespace kiseki::cluster {

namespace {
constexpr auto kCallDeadline = std::chrono::milliseconds(10000);
constexpr auto kRetryFor = std::chrono::seconds(30);

std::string encode_nodes(uint64_t commit, uint32_t shards, const std::vector<NodeInfo>& nodes) {
  std::string out;
  Encoder e(&out);
  e.u64(commit).u32(shards).u32(static_cast<uint32_t>(nodes.size()));
  for (const auto& n : nodes) e.u64(n.id).str(encode_node(n));
  return out;
}

Result<std::vector<NodeInfo>> decode_nodes(std::string_view data, uint64_t* commit, uint32_t* shards) {
  Decoder d(data);
  *commit = d.u64();
  *shards = d.u32();
  uint32_t n = d.u32();
  std::vector<NodeInfo> out;
  for (uint32_t i = 0; i < n && d.ok(); ++i) {
    uint64_t id = d.u64();
    std::string_view rec = d.str();
    if (!d.ok()) break;
    KISEKI_ASSIGN_OR_RETURN(NodeInfo info, decode_node(id, rec));
    out.push_back(std::move(info));
  }
  if (!d.ok() || !d.done()) return corruption("malformed cluster map");
  return out;
}

NodeInfo with_state(NodeInfo n, NodeState s) {
  n.state = s;
  return n;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}
}  // namespace

// ---- the map

void ClusterNode::learn(const NodeInfo& n, bool if_absent) {
  {
    std::lock_guard lock(nodes_mu_);
    auto it = nodes_.find(n.id);
    // An if-absent record applies only where the store had no record: the
    // in-memory map may hold an --initial-cluster member the store has not
    // recorded yet, with the same address.
    if (if_absent && it != nodes_.end() && (it->second.fabric != n.fabric || it->second.state != NodeState::kActive))
      return;
    nodes_[n.id] = n;
  }
  if (n.id != opts_.node_id) peers_->set_address(n.id, n.fabric);
  else if (n.state == NodeState::kRemoved)
    KLOG_WARN("cluster: this node ({}) was removed from the cluster; it takes no part any more", n.id);
}

Status ClusterNode::load_map(const meta::Store& store) {
  KISEKI_ASSIGN_OR_RETURN(auto recorded, load_nodes(store));
  for (const auto& n : recorded) learn(n, false);
  return Status::ok();
}

std::vector<NodeInfo> ClusterNode::nodes() const {
  std::vector<NodeInfo> out;
  std::lock_guard lock(nodes_mu_);
  for (const auto& [id, n] : nodes_)
    if (n.state != NodeState::kRemoved) out.push_back(n);
  return out;
}

Status ClusterNode::submit_node(const NodeInfo& n, bool if_absent) {
  RaftLog* raft = root();
  if (!raft) return make_error(ErrorCode::kUnavailable, "the root shard's log is not open");
  RequestId req{client_id_, next_seq_.fetch_add(1)};
  return raft->submit(set_node_record(n, if_absent, req)).status();
}

// ---- changes, on the leader

Result<std::string> ClusterNode::on_leader(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric) {
  auto until = std::chrono::steady_clock::now() + kRetryFor;
  Status last = make_error(ErrorCode::kUnavailable, "no leader");
  while (std::chrono::steady_clock::now() < until) {
    RaftLog* r = raft(shard);
    uint64_t leader = r ? r->leader() : 0;
    Result<std::string> out = last;
    if (leader == opts_.node_id) {
      out = membership_here(op, shard, id, fabric);
    } else if (leader != 0) {
      std::string p;
      Encoder(&p).u8(static_cast<uint8_t>(op)).u64(shard).u64(id).str(fabric);
      out = peers_->call(leader, FabricOp::kMembership, p, kCallDeadline);
    }
    if (out || (out.code() != ErrorCode::kUnavailable && out.code() != ErrorCode::kTimeout)) return out;
    last = out.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

Result<std::string> ClusterNode::on_every_leader(MembershipOp op, uint64_t id, std::string_view fabric) {
  KISEKI_ASSIGN_OR_RETURN(std::string first, on_leader(op, kRootShard, id, fabric));
  for (uint64_t k = 1; k < shards_; ++k) KISEKI_TRY(on_leader(op, k, id, fabric).status());
  return first;
}

Result<std::string> ClusterNode::membership(MembershipOp op, uint64_t shard, uint64_t id, std::string_view fabric) {
  RaftLog* r = raft(shard);
  if (!r || r->leader() != opts_.node_id) return make_error(ErrorCode::kUnavailable, "not leader");
  return membership_here(op, shard, id, fabric);
}

Result<std::string> ClusterNode::membership_here(MembershipOp op, uint64_t shard, uint64_t id,
                                                 std::string_view fabric) {
  RaftLog* r = raft(shard);
  if (!r) return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(shard) + " is not open here");
  if (id == 0) return invalid_argument("node ids are numbers above 0");
  std::map<uint64_t, NodeInfo> all;
  {
    std::lock_guard lock(nodes_mu_);
    all = nodes_;
  }
  std::optional<NodeInfo> known;
  if (auto it = all.find(id); it != all.end()) known = it->second;
  RaftShardStatus st = r->status();
  auto in_config = [&](RaftRole* role) {
    for (const auto& m : st.members)
      if (m.id == id) {
        if (role) *role = m.role;
        return true;
      }
    return false;
  };
  // The root shard decides (the map is its state); the other shards follow
  // it with their Raft configurations.
  const bool root_shard = shard == kRootShard;
  if (root_shard) {
    for (const auto& [nid, n] : all)
      if (op == MembershipOp::kJoin && nid != id && n.fabric == fabric && n.state != NodeState::kRemoved)
        return make_error(ErrorCode::kExists, "node " + std::to_string(nid) + " already listens at " + std::string(fabric));
    if (op != MembershipOp::kJoin && !known) return not_found("no node " + std::to_string(id) + " in the cluster");
    if (known && known->state == NodeState::kRemoved)
      return make_error(ErrorCode::kNotPermitted, "node " + std::to_string(id) + " was removed; its id is not used again");
  }
  switch (op) {
    case MembershipOp::kJoin: {
      KISEKI_ASSIGN_OR_RETURN(std::string raft_addr, raft_address_of(fabric));
      if (root_shard) {
        if (known && known->fabric != fabric)
          return make_error(ErrorCode::kExists, "node id " + std::to_string(id) + " is in use (at " + known->fabric + ")");
        // The map first: every node knows where the new one is before it is
        // sent anything.
        KISEKI_TRY(submit_node(NodeInfo{id, std::string(fabric), NodeState::kActive}, false));
      }
      RaftRole role = RaftRole::kSpare;
      if (!in_config(&role)) KISEKI_TRY(r->add_member(id, raft_addr));
      if (role == RaftRole::kSpare) KISEKI_TRY(r->assign(id, RaftRole::kStandby));
      if (!root_shard) return std::string();
      // Every other shard's group takes it in too, on its own leader.
      for (uint64_t k = 1; k < shards_; ++k) KISEKI_TRY(on_leader(MembershipOp::kJoin, k, id, fabric).status());
      KLOG_INFO("cluster: node {} at {} joined as a standby", id, fabric);
      return encode_nodes(r->status().commit_index, shards_, nodes());
    }
    case MembershipOp::kPromote: {
      RaftRole role = RaftRole::kSpare;
      if (!in_config(&role)) return not_found("node " + std::to_string(id) + " is not in shard " + std::to_string(shard));
      if (role != RaftRole::kVoter) KISEKI_TRY(r->assign(id, RaftRole::kVoter));
      KLOG_INFO("cluster: node {} is a voter of shard {}", id, shard);
      return std::string();
    }
    case MembershipOp::kDrain: {
      if (root_shard) KISEKI_TRY(submit_node(with_state(*known, NodeState::kDraining), false));
      if (id == opts_.node_id) (void)r->transfer(0);  // leadership goes elsewhere
      if (root_shard) KLOG_INFO("cluster: node {} drains", id);
      return std::string();
    }
    case MembershipOp::kRemove: {
      if (id == opts_.node_id) {
        // The leader leaves last: another node takes over and removes it.
        KISEKI_TRY(r->transfer(0));
        return make_error(ErrorCode::kUnavailable, "leadership moved; the new leader removes this node");
      }
      size_t voters = 0;
      for (const auto& m : st.members) voters += m.role == RaftRole::kVoter && m.id != id;
      if (voters == 0) return make_error(ErrorCode::kNotPermitted, "the last voter cannot be removed");
      // The map first, so that the node itself still applies the record
      // that says it is out; then the Raft configuration.
      if (root_shard) KISEKI_TRY(submit_node(with_state(*known, NodeState::kRemoved), false));
      if (in_config(nullptr)) KISEKI_TRY(r->remove_member(id));
      KLOG_INFO("cluster: node {} removed from shard {}", id, shard);
      return std::string();
    }
  }
  return invalid_argument("unknown membership call");
}

Status ClusterNode::promote(uint64_t id) { return on_every_leader(MembershipOp::kPromote, id, {}).status(); }
Status ClusterNode::drain(uint64_t id) { return on_every_leader(MembershipOp::kDrain, id, {}).status(); }
Status ClusterNode::remove(uint64_t id) { return on_every_leader(MembershipOp::kRemove, id, {}).status(); }

// ---- a node that joins

Status ClusterNode::join_through(const std::string& fabric) {
  std::string p;
  Encoder(&p).u8(static_cast<uint8_t>(MembershipOp::kJoin)).u64(kRootShard).u64(opts_.node_id).str(opts_.listen);
  auto until = std::chrono::steady_clock::now() + kRetryFor;
  Status last;
  while (std::chrono::steady_clock::now() < until) {
    // The node named may not lead: it answers "not leader", and the map it
    // would give is not to be had until the join commits. Ask it for the
    // leader by trying the call there, then every node its status names.
    auto r = peers_->call_at(fabric, FabricOp::kMembership, p, kCallDeadline);
    if (!r && r.code() == ErrorCode::kUnavailable) {
      auto st = peers_->call_at(fabric, FabricOp::kStatus, {}, std::chrono::milliseconds(2000));
      // Its own view names the leader and every member's fabric address.
      if (st) {
        size_t at = st->find("\"leader_fabric\":\"");
        if (at != std::string::npos) {
          at += 17;
          std::string leader(st->substr(at, st->find('"', at) - at));
          if (!leader.empty() && leader != fabric) r = peers_->call_at(leader, FabricOp::kMembership, p, kCallDeadline);
        }
      }
    }
    if (r) {
      uint32_t shards = 0;
      KISEKI_ASSIGN_OR_RETURN(auto map, decode_nodes(*r, &join_commit_, &shards));
      if (shards == 0 || shards > kMaxShards) return corruption("the cluster's shard count is malformed");
      shards_ = shards;
      for (const auto& n : map) learn(n, false);
      KLOG_INFO("cluster: joined through {} as node {} ({} nodes)", fabric, opts_.node_id, map.size());
      return Status::ok();
    }
    last = r.status();
    if (r.code() != ErrorCode::kUnavailable && r.code() != ErrorCode::kTimeout)
      return make_error(r.code(), "--join " + fabric + ": " + r.status().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return make_error(ErrorCode::kUnavailable, "--join " + fabric + ": " + last.message());
}

void ClusterNode::membership_worker() {
  auto wait = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(stop_mu_);
    return !stop_cv_.wait_for(lock, d, [&] { return stopping_; });
  };
  // This node's own record in the map (the first members are in no record
  // until they register; a joined node's record the leader wrote).
  NodeInfo self{opts_.node_id, opts_.listen, NodeState::kActive, opts_.failure_domain, opts_.weight};
  bool registered = false;
  while (!registered) {
    Status st = submit_node(self, true);
    registered = st.is_ok();
    if (!registered && !wait(std::chrono::milliseconds(500))) return;
  }
  // Its failure domain and weight as this start gives them (a joined node's
  // record, or an earlier start's, may say otherwise).
  for (;;) {
    std::optional<NodeInfo> recorded;
    {
      std::lock_guard lock(nodes_mu_);
      if (auto it = nodes_.find(opts_.node_id); it != nodes_.end()) recorded = it->second;
    }
    if (!recorded || recorded->state != NodeState::kActive ||
        (recorded->domain == self.domain && recorded->weight == self.weight))
      break;
    NodeInfo update = *recorded;
    update.domain = self.domain;
    update.weight = self.weight;
    if (submit_node(update, false).is_ok()) break;
    if (!wait(std::chrono::milliseconds(500))) return;
  }
  RaftLog* raft = root();
  if (joined_now_) {
    // A standby becomes a voter once it holds what the leader had committed
    // when it took this node in (libraft's catch-up rounds do the rest).
    while (raft->applied_index() < join_commit_)
      if (!wait(std::chrono::milliseconds(100))) return;
    for (;;) {
      Status st = promote(opts_.node_id);
      if (st.is_ok()) break;
      KLOG_WARN("cluster: promotion of node {} to a voter: {}; trying again", opts_.node_id, st.to_string());
      if (!wait(std::chrono::seconds(1))) return;
    }
  }
  // A draining node does not stay leader: Raft may elect it again, and it
  // hands leadership on each time.
  while (wait(std::chrono::milliseconds(500))) {
    bool draining = false;
    {
      std::lock_guard lock(nodes_mu_);
      auto it = nodes_.find(opts_.node_id);
      draining = it != nodes_.end() && it->second.state != NodeState::kActive;
    }
    if (!draining) continue;
    for (uint64_t k = 0; k < shards_; ++k) {
      RaftLog* r = this->raft(k);
      if (!r || r->leader() != opts_.node_id) continue;
      Status st = r->transfer(0);
      KLOG_INFO("cluster: this node drains; leadership of shard {} handed on: {}", k,
                st.is_ok() ? "done" : st.to_string());
    }
  }
}

// ---- views

namespace {

// How long a status report waits for this node's Raft loop, over all its
// shards; a busy loop (a snapshot being installed) answers with the last values
// it read, marked busy. Below the 1 s a node gives a peer's status call.
constexpr std::chrono::milliseconds kStatusWait{400};

std::chrono::milliseconds until(std::chrono::steady_clock::time_point deadline) {
  auto left = deadline - std::chrono::steady_clock::now();
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(left));
}

}  // namespace

std::vector<NodeView> ClusterNode::list_nodes() {
  std::vector<NodeView> out;
  RaftShardStatus st;
  if (RaftLog* raft = root()) {
    (void)raft->read_barrier();  // the map as the cluster has it now, if a leader answers
    st = raft->status();
  }
  std::map<uint64_t, NodeInfo> all;
  {
    std::lock_guard lock(nodes_mu_);
    all = nodes_;
  }
  for (const auto& [id, n] : all) {
    NodeView v;
    v.info = n;
    for (const auto& m : st.members)
      if (m.id == id) v.raft_role = role_name(m.role);
    v.leader = st.leader == id;
    out.push_back(std::move(v));
  }
  return out;
}

std::string ClusterNode::cluster_status_json() {
  std::string nodes_json;
  for (const auto& m : nodes()) {
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
    nodes_json += (nodes_json.empty() ? "" : ",") + one;
  }
  std::string shards;
  auto deadline = std::chrono::steady_clock::now() + kStatusWait;
  for (uint64_t k = 0; k < shards_; ++k) {
    RaftLog* r = raft(k);
    if (!r) continue;
    RaftShardStatus s = r->status_within(until(deadline));
    shards += fmt::format("{}{{\"shard\":{},\"leader\":{},\"term\":{},\"commit_index\":{},\"seen_from\":{}}}",
                          shards.empty() ? "" : ",", s.shard, s.leader, s.term, s.commit_index, opts_.node_id);
  }
  shards = "[" + shards + "]";
  // The repair services' last passes, summed: each node answers for its own chunks.
  uint64_t degraded = 0, bytes_left = 0, unreadable = 0;
  double rate = 0;
  bool complete = true;
  boost::system::error_code ec;
  auto all = boost::json::parse("[" + nodes_json + "]", ec);
  if (!ec)
    for (const auto& v : all.as_array()) {
      const auto* repair = v.is_object() ? v.as_object().if_contains("repair") : nullptr;
      const auto* last = repair && repair->is_object() ? repair->as_object().if_contains("last") : nullptr;
      if (!last || !last->is_object()) {
        complete = false;
        continue;
      }
      const auto& r = repair->as_object();
      auto num = [](const boost::json::object& o, const char* k) {
        const auto* x = o.if_contains(k);
        return x && x->is_number() ? x->to_number<double>() : 0.0;
      };
      degraded += static_cast<uint64_t>(num(r, "chunks_degraded"));
      bytes_left += static_cast<uint64_t>(num(r, "bytes_left"));
      rate += num(r, "rate_bytes_per_second");
      unreadable += static_cast<uint64_t>(num(last->as_object(), "unreadable"));
    }
  std::string eta = rate > 0 ? fmt::format("{:.1f}", static_cast<double>(bytes_left) / rate) : "null";
  return fmt::format("{{\"node\":{},\"nodes\":[{}],\"shards\":{},\"chunks_degraded\":{},\"chunks_unreadable\":{},"
                     "\"repair\":{{\"every_node_passed\":{},\"bytes_left\":{},\"rate_bytes_per_second\":{:.0f},"
                     "\"eta_seconds\":{}}},\"chunks_written_degraded\":{},\"quorum_lost\":{}}}",
                     opts_.node_id, nodes_json, shards, degraded, unreadable, complete ? "true" : "false", bytes_left,
                     rate, eta, degraded_writes_->value(), quorum_lost_->value());
}

std::string ClusterNode::status_json() {
  auto all = nodes();
  std::string leader_fabric;
  if (RaftLog* r = root()) {
    uint64_t leader = r->leader();
    for (const auto& n : all)
      if (n.id == leader) leader_fabric = n.fabric;
  }
  std::string out = fmt::format("{{\"node\":{},\"fabric\":\"{}\",\"leader_fabric\":\"{}\",\"members\":[", opts_.node_id,
                                json_escape(opts_.listen), json_escape(leader_fabric));
  for (size_t i = 0; i < all.size(); ++i)
    out += fmt::format("{}{{\"id\":{},\"fabric\":\"{}\",\"state\":\"{}\",\"domain\":\"{}\",\"weight\":{}}}",
                       i ? "," : "", all[i].id, json_escape(all[i].fabric), node_state_name(all[i].state),
                       json_escape(all[i].domain), all[i].weight);
  out += "],\"shards\":[";
  auto ids = [](const std::vector<RaftMember>& members, bool voters) {
    std::string list;
    for (const auto& m : members)
      if ((m.role == RaftRole::kVoter) == voters) list += fmt::format("{}{}", list.empty() ? "" : ",", m.id);
    return list;
  };
  bool first_shard = true;
  auto deadline = std::chrono::steady_clock::now() + kStatusWait;
  for (uint64_t k = 0; k < shards_; ++k) {
    RaftLog* r = raft(k);
    if (!r) continue;
    RaftShardStatus s = r->status_within(until(deadline));
    out += fmt::format("{}{{\"shard\":{},\"role\":\"{}\",\"busy\":{},\"leader\":{},\"term\":{},"
                       "\"commit_index\":{},\"applied_index\":{},\"last_index\":{},\"snapshot_index\":{},"
                       "\"voters\":[{}],\"standbys\":[{}],\"match\":{{",
                       first_shard ? "" : ",", s.shard, s.role, s.busy, s.leader, s.term, s.commit_index,
                       s.applied_index, s.last_index, s.snapshot_index, ids(s.members, true), ids(s.members, false));
    first_shard = false;
    for (size_t i = 0; i < s.match.size(); ++i)
      out += fmt::format("{}\"{}\":{}", i ? "," : "", s.match[i].first, s.match[i].second);
    out += "}}";
  }
  out += "],\"repair\":" + repair_json() + "}";
  return out;
}

}  // namespace kiseki::cluster
