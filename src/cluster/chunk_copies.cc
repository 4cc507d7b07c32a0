#include <algorithm>
#include <condition_variable>
#include <map>

#include "chunk/refs.h"
#include "cluster/cluster_node.h"
#include "cluster/erasure.h"
#include "cluster/repair_plan.h"
#include "common/logging.h"

// Chunks across nodes (docs/cluster.md#chunks): copies or erasure-coded
// fragments to the nodes placement picks, a write quorum before the record
// that references them commits, and reads from other nodes' copies or from any
// K fragments.
namespace kiseki::cluster {

namespace {
constexpr auto kChunkDeadline = std::chrono::milliseconds(5000);
// How long a copy that arrived stays pinned: longer than any write takes to
// commit (submit gives up after 10 s).
constexpr auto kCopyGrace = std::chrono::seconds(60);
}  // namespace

// ---- calls to several nodes at once

// Marks a call answered when its work is destroyed, run or not (a pool that
// stops drops what waits), so a wait on the round always ends.
struct ClusterNode::CallDone {
  std::shared_ptr<CallRound> round;
  size_t index = 0;
  std::optional<Result<std::string>> result;
  ~CallDone() {
    if (!round) return;
    std::lock_guard lock(round->mu);
    round->out[index] = result ? std::move(*result) : Result<std::string>(make_error(ErrorCode::kUnavailable, "not sent"));
    --round->left;
    round->cv.notify_all();
  }
};

std::shared_ptr<ClusterNode::CallRound> ClusterNode::start_calls(std::vector<NodeCall> calls,
                                                                 std::chrono::milliseconds deadline) {
  auto round = std::make_shared<CallRound>();
  round->calls = std::move(calls);
  round->out.resize(round->calls.size());
  round->left = round->calls.size();
  for (size_t i = 0; i < round->calls.size(); ++i) {
    auto done = std::make_shared<CallDone>();
    done->round = round;
    done->index = i;
    senders_.post([this, done, deadline] {
      const NodeCall& c = done->round->calls[done->index];  // the round owns it: no payload is copied
      done->result = c.node == opts_.node_id ? call_here(c.op, c.payload)
                                             : peers_->call(c.node, c.op, c.payload, deadline);
    });
  }
  return round;
}

std::vector<Result<std::string>> ClusterNode::call_all(std::vector<NodeCall>& calls,
                                                       std::chrono::milliseconds deadline) {
  auto round = start_calls(std::move(calls), deadline);
  std::unique_lock lock(round->mu);
  round->cv.wait(lock, [&] { return round->left == 0; });  // every call has its deadline
  calls = std::move(round->calls);  // answered: no send reads them any more
  std::vector<Result<std::string>> out;
  for (auto& r : round->out) out.push_back(std::move(*r));
  return out;
}

Result<std::string> ClusterNode::call_here(FabricOp op, std::string_view payload) {
  Decoder in(payload);
  switch (op) {
    case FabricOp::kChunkGet: {
      ChunkId key;
      if (!ChunkId::from_view(in.raw(32), &key)) return invalid_argument("malformed chunk get");
      Bytes sealed;
      KISEKI_TRY(get_chunk(key, &sealed));
      return std::string(as_string_view(sealed));
    }
    case FabricOp::kChunkPut: {
      std::vector<std::pair<ChunkId, std::string_view>> pieces;
      KISEKI_TRY(decode_chunk_put(in, &pieces));
      KISEKI_TRY(put_chunks(pieces));
      return std::string();
    }
    case FabricOp::kChunkHas: case FabricOp::kChunkDrop: case FabricOp::kChunkGetMany: {
      std::vector<ChunkId> keys;
      KISEKI_TRY(decode_keys(in, &keys));
      if (op == FabricOp::kChunkDrop) {
        KISEKI_TRY(drop_chunks(keys));
        return std::string();
      }
      return op == FabricOp::kChunkHas ? has_chunks(keys) : get_chunks(keys);
    }
    default:
      return invalid_argument("not a call this node makes to itself");
  }
}

// ---- where chunks go

std::vector<PlacementNode> ClusterNode::placement_nodes() const {
  std::vector<PlacementNode> out;
  std::lock_guard lock(nodes_mu_);
  for (const auto& [nid, info] : nodes_)
    if (info.state == NodeState::kActive) out.push_back({nid, info.domain, info.weight});
  return out;
}

Redundancy ClusterNode::form_of(const ChunkId& id) const {
  for (uint32_t k = 0; k < shards_; ++k) {
    meta::Store* s = shard_stores_[k].load();
    if (!s) continue;
    auto f = chunk::ref_form(*s, id);
    if (f && *f) return **f;
  }
  return kLegacyRedundancy;
}

bool ClusterNode::keeps(const ChunkId& id) const {
  Redundancy form = form_of(id);
  if (form.erasure_coded()) return false;
  auto slots = place(id, form, placement_nodes());
  return std::find(slots.begin(), slots.end(), opts_.node_id) != slots.end();
}

Status ClusterNode::can_place(const Redundancy& form) const {
  size_t n = placement_nodes().size();
  if (form.erasure_coded() && n < form.slots())
    return make_error(ErrorCode::kNotPermitted, form.name() + " places " + std::to_string(form.slots()) +
                                                    " fragments on as many nodes; the cluster has " +
                                                    std::to_string(n) + " active");
  if (!form.erasure_coded() && n < form.write_quorum())
    return make_error(ErrorCode::kNotPermitted, form.name() + " needs at least " +
                                                    std::to_string(form.write_quorum()) + " active nodes; the cluster has " +
                                                    std::to_string(n));
  return Status::ok();
}

// ---- writes

Status ClusterNode::replicate(const std::vector<ChunkId>& ids, const Redundancy& form) {
  if (ids.empty()) return Status::ok();
  if (nodes().size() <= 1) return persist_adopted();  // this node's copy is the only one
  chunk::ChunkStore* chunks = chunks_.load();
  if (!chunks) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  const auto nodes = placement_nodes();
  if (nodes.empty()) return make_error(ErrorCode::kUnavailable, "no active node to place chunks on");
  std::shared_ptr<const ErasureCode> code;
  if (form.erasure_coded()) {
    KISEKI_ASSIGN_OR_RETURN(code, ErasureCode::get(form.a, form.b));
  }
  const uint32_t slots = form.slots(), quorum = form.write_quorum();

  // Every slot of every chunk: its key, its bytes and its node; chunk i's are
  // pieces[i * slots, (i + 1) * slots).
  struct Piece {
    size_t chunk;
    uint32_t slot;
    ChunkId key;
    std::shared_ptr<const std::string> bytes;
    uint64_t node = 0;
    bool acked = false;
    bool pending = false;  // sent, not answered when the write had its quorum
  };
  std::vector<Piece> pieces;
  std::vector<std::vector<uint64_t>> homes(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].bytes[0] != 0) return invalid_argument("chunk " + ids[i].hex() + ": not a chunk id");
    Bytes sealed;
    KISEKI_TRY(chunks->read_sealed(ids[i], &sealed));
    homes[i] = place(ids[i], form, nodes);
    if (code) {
      auto frags = code->encode(as_string_view(sealed));
      for (uint32_t s = 0; s < slots; ++s)
        pieces.push_back({i, s, fragment_id(ids[i], s), std::make_shared<const std::string>(std::move(frags[s])),
                          homes[i][s]});
    } else {
      auto whole = std::make_shared<const std::string>(as_string_view(sealed));
      for (uint32_t s = 0; s < slots; ++s) pieces.push_back({i, s, ids[i], whole, homes[i][s]});
    }
  }

  // The pieces of chunks whose durable pieces would not yet survive the loss
  // of the nodes the write quorum allows for (pieces still in flight count as
  // not durable, and are not sent again).
  const uint32_t tolerance = write_tolerance(form);
  auto survive = [&](const std::vector<bool>& acked, size_t i) {
    std::vector<uint64_t> durable(slots, 0);
    for (size_t p = i * slots; p < (i + 1) * slots; ++p)
      if (acked[p]) durable[pieces[p].slot] = pieces[p].node;
    return survives(form, durable, tolerance);
  };
  auto acked_now = [&] {
    std::vector<bool> a(pieces.size());
    for (size_t p = 0; p < pieces.size(); ++p) a[p] = pieces[p].acked;
    return a;
  };
  auto lacking = [&] {
    auto acked = acked_now();
    std::vector<size_t> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (survive(acked, i)) continue;
      for (size_t p = i * slots; p < (i + 1) * slots; ++p)
        if (!pieces[p].acked && !pieces[p].pending) out.push_back(p);
    }
    return out;
  };
  // Rounds answered only in part when the write had its quorum: the rest
  // lands in the background (see below).
  std::vector<std::pair<std::shared_ptr<CallRound>, std::vector<std::vector<size_t>>>> unfinished;
  // Sends the pieces given, one call per node; this node's own are stored
  // here and count once synced. Returns once every call has answered, or
  // once every chunk survives with what has.
  auto send = [&](const std::vector<size_t>& which) {
    std::map<uint64_t, std::vector<size_t>> by_node;
    for (size_t p : which) by_node[pieces[p].node].push_back(p);
    std::vector<NodeCall> calls;
    std::vector<std::vector<size_t>> of_call;
    bool here = false;
    for (const auto& [node, ps] : by_node) {
      if (node == opts_.node_id) {
        for (size_t p : ps)
          if (!form.erasure_coded() || chunks->adopt(pieces[p].key, as_bytes(*pieces[p].bytes)).is_ok())
            here = true;
        continue;
      }
      std::string payload;
      Encoder e(&payload);
      e.u32(static_cast<uint32_t>(ps.size()));
      for (size_t p : ps) e.raw(pieces[p].key.view()).str(*pieces[p].bytes);
      calls.push_back({node, FabricOp::kChunkPut, std::move(payload)});
      of_call.push_back(ps);
      copies_sent_->inc(ps.size());
    }
    auto round = start_calls(std::move(calls), kChunkDeadline);
    // This node's pieces count once their bytes and locations are durable
    // here (the location rides in the root shard's batches otherwise, which a
    // crash could lose while the record commits in another shard): a shared
    // round of syncs, while the other pieces travel.
    Status local = here ? persist_adopted() : Status::ok();
    if (!local.is_ok()) KLOG_WARN("chunks of this write: this node's pieces are not durable: {}", local.to_string());
    for (const auto& [node, ps] : by_node)
      if (node == opts_.node_id)
        for (size_t p : ps) pieces[p].acked = here && local.is_ok();
    auto apply = [&](std::vector<bool>* acked) {
      for (size_t c = 0; c < of_call.size(); ++c)
        if (round->out[c] && round->out[c]->is_ok())
          for (size_t p : of_call[c]) (*acked)[p] = true;
    };
    std::unique_lock lock(round->mu);
    round->cv.wait(lock, [&] {
      if (round->left == 0) return true;
      auto acked = acked_now();
      apply(&acked);
      for (size_t i = 0; i < ids.size(); ++i)
        if (!survive(acked, i)) return false;
      return true;
    });
    for (size_t c = 0; c < of_call.size(); ++c) {
      for (size_t p : of_call[c]) {
        pieces[p].acked = round->out[c] && round->out[c]->is_ok();
        pieces[p].pending = !round->out[c].has_value();
      }
      if (round->out[c] && !round->out[c]->is_ok())
        KLOG_DEBUG("chunk pieces to node {}: {}", round->calls[c].node, round->out[c]->status().to_string());
    }
    if (round->left > 0) unfinished.emplace_back(round, std::move(of_call));
  };
  std::vector<size_t> all(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p) all[p] = p;
  send(all);
  // A node that did not answer: its pieces go to the best nodes left (they
  // stay there until repair moves them home), until every chunk has its quorum.
  std::set<uint64_t> failed;
  for (std::vector<size_t> retry = lacking(); !retry.empty(); retry = lacking()) {
    size_t before = failed.size();
    for (size_t p : retry) failed.insert(pieces[p].node);
    if (failed.size() == before || failed.size() >= nodes.size()) break;
    for (size_t p : retry) {
      auto alt = place(ids[pieces[p].chunk], form, nodes, failed);
      pieces[p].node = alt[pieces[p].slot];
    }
    send(retry);
  }
  if (auto short_of = lacking(); !short_of.empty()) {
    quorum_lost_->inc();
    return make_error(ErrorCode::kUnavailable, "chunk " + ids[pieces[short_of[0]].chunk].hex() + ": too few of its " +
                                                   std::to_string(slots) +
                                                   (form.erasure_coded() ? " fragments" : " copies") +
                                                   " are durable to survive the loss of " + std::to_string(tolerance) +
                                                   " node(s) (write quorum " + std::to_string(quorum) + ")");
  }
  // Once every piece is placed, the writer's own whole copy goes (once no
  // writer here holds it pinned) unless it is one of the chunk's homes (an
  // erasure-coded chunk's never is); a chunk left short goes to repair.
  auto settle = [this, chunks, form, ids, homes, slots](const std::vector<bool>& acked,
                                                        const std::vector<size_t>& chunk_of_piece) {
    std::vector<uint32_t> acks(ids.size(), 0);
    for (size_t p = 0; p < acked.size(); ++p) acks[chunk_of_piece[p]] += acked[p];
    for (size_t i = 0; i < ids.size(); ++i) {
      if (acks[i] < slots) {
        degraded_writes_->inc();
        note_degraded(ids[i]);
      } else if (form.erasure_coded() ||
                 std::find(homes[i].begin(), homes[i].end(), opts_.node_id) == homes[i].end()) {
        chunks->evict_when_unpinned(ids[i]);
      }
    }
  };
  std::vector<bool> acked = acked_now();
  std::vector<size_t> chunk_of_piece;
  for (const auto& p : pieces) chunk_of_piece.push_back(p.chunk);
  if (unfinished.empty()) {
    settle(acked, chunk_of_piece);
  } else {
    // The write has its quorum; the pieces still travelling land in the
    // background, and the chunk is settled when they have.
    senders_.post([unfinished = std::move(unfinished), acked, chunk_of_piece, settle]() mutable {
      for (auto& entry : unfinished) {
        const auto& round = entry.first;
        const auto& of_call = entry.second;
        std::unique_lock lock(round->mu);
        round->cv.wait(lock, [&] { return round->left == 0; });
        for (size_t c = 0; c < of_call.size(); ++c)
          if (round->out[c] && round->out[c]->is_ok())
            for (size_t p : of_call[c]) acked[p] = true;
      }
      settle(acked, chunk_of_piece);
    });
  }
  return Status::ok();
}

Status ClusterNode::put_chunks(const std::vector<std::pair<ChunkId, std::string_view>>& chunks) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  std::vector<chunk::PreparedChunk> pins;
  for (const auto& [key, bytes] : chunks) {
    if (is_fragment_id(key)) {
      // A fragment is checked before it is kept: a damaged one is refused.
      std::string_view frag;
      KISEKI_TRY(parse_fragment(bytes, &frag).status());
    }
    KISEKI_TRY(cs->adopt(key, as_bytes(bytes)).status());
    // A copy arrives before the record that references it commits: until it
    // does (or the writer gives up), no collection here may take it (ADR 0006's
    // grace period for the holders that are not the writer).
    if (auto p = cs->pin_existing(key)) pins.push_back(std::move(*p));
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

// ---- reads

Status ClusterNode::fetch(const ChunkId& id, Bytes* sealed) {
  Redundancy form = form_of(id);
  Status last = not_found("no other node holds chunk " + id.hex());
  if (form.erasure_coded()) {
    std::string out;
    last = gather(id, form, &out);
    if (last.is_ok()) {
      sealed->assign(out.begin(), out.end());
      return Status::ok();
    }
    // A whole copy may still be about (a writer's, before its fragments were all placed).
  }
  // Where placement puts it first, then every other node (a copy may sit on a
  // node that drains, or where a write fell back to when a home node failed).
  std::vector<uint64_t> order = place(id, form.erasure_coded() ? kLegacyRedundancy : form, placement_nodes());
  for (const auto& n : nodes())
    if (std::find(order.begin(), order.end(), n.id) == order.end()) order.push_back(n.id);
  for (uint64_t node : order) {
    if (node == opts_.node_id) continue;
    auto r = peers_->call(node, FabricOp::kChunkGet, id.view(), kChunkDeadline);
    if (!r) {
      if (form.erasure_coded() && r.code() == ErrorCode::kNotFound) continue;
      last = r.status();
      continue;
    }
    sealed->assign(r->begin(), r->end());
    fetched_->inc();
    return Status::ok();
  }
  return last;
}

Status ClusterNode::gather(const ChunkId& id, const Redundancy& form, std::string* sealed) {
  KISEKI_ASSIGN_OR_RETURN(auto code, ErasureCode::get(form.a, form.b));
  const uint32_t k = form.a, slots = form.slots();
  auto homes = place(id, form, placement_nodes());
  std::map<uint32_t, std::string> got;
  std::vector<bool> asked(slots, false);
  // Asks for fragments `want` on their homes (or, with `everywhere`, on every node).
  auto ask = [&](const std::vector<uint32_t>& want, bool everywhere) {
    std::vector<NodeCall> calls;
    std::vector<uint32_t> of;
    for (uint32_t s : want) {
      std::vector<uint64_t> where;
      if (!everywhere) where.push_back(homes[s]);
      else
        for (const auto& n : nodes())
          if (n.id != homes[s]) where.push_back(n.id);
      for (uint64_t node : where) {
        calls.push_back({node, FabricOp::kChunkGet, std::string(fragment_id(id, s).view())});
        of.push_back(s);
      }
      asked[s] = true;
    }
    auto res = call_all(calls, kChunkDeadline);
    for (size_t c = 0; c < calls.size(); ++c) {
      if (!res[c] || got.count(of[c])) continue;
      std::string_view bytes;
      auto h = parse_fragment(*res[c], &bytes);
      if (h && h->index == of[c] && h->k == form.a && h->m == form.b) got[of[c]] = std::move(*res[c]);
    }
  };
  // The data fragments first (no decoding when they are all good).
  std::vector<uint32_t> want;
  for (uint32_t s = 0; s < k; ++s) want.push_back(s);
  ask(want, false);
  bool degraded = got.size() < k;
  if (got.size() < k) {
    want.clear();
    for (uint32_t s = k; s < slots; ++s) want.push_back(s);
    ask(want, false);
  }
  if (got.size() < k) {
    // Fragments that placement no longer puts where they are (a map change
    // that repair has not caught up with): ask every node.
    want.clear();
    for (uint32_t s = 0; s < slots; ++s)
      if (!got.count(s)) want.push_back(s);
    ask(want, true);
  }
  if (degraded) {
    degraded_reads_->inc();
    note_degraded(id);
  }
  std::vector<uint32_t> bad;
  Status st = code->decode(got, sealed, &bad);
  if (!bad.empty()) note_degraded(id);
  if (st.is_ok()) fetched_->inc();
  return st;
}

Status ClusterNode::get_chunk(const ChunkId& key, Bytes* sealed) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  if (cs->locate(key).code() == ErrorCode::kNotFound) return not_found("chunk " + key.hex() + " has no copy here");
  Status st = cs->read_sealed(key, sealed);
  if (st.code() == ErrorCode::kCorruption) {
    // Damaged where it sits: dropped, so that presence calls say so and the
    // chunk's repair rebuilds it here.
    KLOG_ERROR("{} {} failed its check on this node ({}): dropped, repair rebuilds it",
               is_fragment_id(key) ? "fragment" : "chunk", key.hex(), st.message());
    if (cs->evict(key).is_ok()) (void)cs->flush_local();
    note_degraded(chunk_of(key));
    wake_repair();
  }
  return st;
}

Result<std::string> ClusterNode::has_chunks(const std::vector<ChunkId>& keys) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  std::string out;
  Encoder e(&out);
  for (const auto& k : keys) {
    auto loc = cs->locate(k);
    e.u32(loc ? loc->length : 0);
  }
  return out;
}

Result<std::string> ClusterNode::get_chunks(const std::vector<ChunkId>& keys) {
  std::string out;
  Encoder e(&out);
  Bytes rec;
  for (const auto& k : keys) {
    // A record that is missing or fails its check here is answered as none.
    if (get_chunk(k, &rec).is_ok()) e.str(as_string_view(rec));
    else e.u32(0);
  }
  return out;
}

Status ClusterNode::drop_chunks(const std::vector<ChunkId>& keys) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  // Not deferred for pins: the copies that arrived stay pinned for a grace
  // period against collection, not against a move the chunk is whole without.
  bool any = false;
  for (const auto& k : keys) {
    KISEKI_ASSIGN_OR_RETURN(bool had, cs->evict(k));
    any |= had;
  }
  return any ? cs->flush_local() : Status::ok();
}

}  // namespace kiseki::cluster
