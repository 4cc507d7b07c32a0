#include <algorithm>
#include <condition_variable>
#include <map>

#include "cluster/cluster_node.h"
#include "common/logging.h"

// Replicated chunks (docs/cluster.md#chunks): copies to the nodes placement
// picks, a write quorum before the record that references them commits, and
// reads from another node's copy.
namespace kiseki::cluster {

namespace {
constexpr auto kChunkDeadline = std::chrono::milliseconds(5000);
// How long a copy that arrived stays pinned: longer than any write takes to
// commit (submit gives up after 10 s).
constexpr auto kCopyGrace = std::chrono::seconds(60);

// One replicate call's progress, shared with the sends that outlive it.
struct CopyRound {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint32_t> acks;  // per chunk
  size_t sends_left = 0;
};
}  // namespace

Status ClusterNode::replicate(const std::vector<ChunkId>& ids) {
  if (ids.empty()) return Status::ok();
  if (nodes().size() <= 1) return persist_adopted();  // this node's copy is the only one
  chunk::ChunkStore* chunks = chunks_.load();
  if (!chunks) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  // Placement ranks the active nodes (not draining ones); the same for every chunk.
  const size_t members = placement(ids[0]).size();
  if (members == 0) return make_error(ErrorCode::kUnavailable, "no active node to place chunks on");
  size_t home = std::min<size_t>(opts_.replicas, members);
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
    for (size_t r = 0; r < home; ++r)
      if (ranked[i][r] != opts_.node_id) by_node[ranked[i][r]].push_back(i);
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
  // This node's own copy counts once its bytes and its location are durable
  // here (the location rides in the root shard's batches otherwise, which a
  // crash could lose while the record commits in another shard): a shared
  // round of syncs, while the copies travel.
  if (Status st = persist_adopted(); st.is_ok()) {
    std::lock_guard lock(round->mu);
    for (size_t i = 0; i < ids.size(); ++i)
      for (size_t r = 0; r < home; ++r)
        if (ranked[i][r] == opts_.node_id) ++round->acks[i];
  } else {
    KLOG_WARN("chunks of this write: this node's copy is not durable: {}", st.to_string());
  }
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
  for (size_t extra = home; !lacking.empty() && extra < members; ++extra) {
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
  // Where placement puts it first, then every other node (a copy may sit on a
  // node that drains, or where a write fell back to when a home node failed).
  std::vector<uint64_t> order = placement(id);
  for (const auto& n : nodes())
    if (std::find(order.begin(), order.end(), n.id) == order.end()) order.push_back(n.id);
  for (uint64_t node : order) {
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

Status ClusterNode::put_chunks(const std::vector<std::pair<ChunkId, std::string_view>>& chunks) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  std::vector<chunk::PreparedChunk> pins;
  for (const auto& [id, sealed] : chunks) {
    KISEKI_TRY(cs->adopt(id, as_bytes(sealed)).status());
    // A copy arrives before the record that references it commits: until it
    // does (or the writer gives up), no collection here may take it (ADR 0006's
    // grace period for the holders that are not the writer).
    if (auto p = cs->pin_existing(id)) pins.push_back(std::move(*p));
  }
  KISEKI_TRY(persist_adopted());
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(grace_mu_);
  while (!grace_.empty() && now - grace_.front().first > kCopyGrace) grace_.pop_front();
  for (auto& p : pins) grace_.emplace_back(now, std::move(p));
  return Status::ok();
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

Status ClusterNode::get_chunk(const ChunkId& id, Bytes* sealed) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  if (cs->locate(id).code() == ErrorCode::kNotFound) return not_found("chunk " + id.hex() + " has no copy here");
  return cs->read_sealed(id, sealed);
}

}  // namespace kiseki::cluster
