// The repair service (docs/cluster.md#repair): every node walks the chunks
// referenced in its shards' stores and takes care of those it is responsible
// for (the first live node among a chunk's homes): slots whose home lacks its
// copy or fragment are rebuilt there (a fragment copied from where it sits, or
// decoded from any K), and once every slot is held where placement says, the
// copies on other nodes go (rebalancing after a join, a drain, a fallback
// write). Nothing is dropped before the chunk is whole elsewhere.
#include <algorithm>
#include <cstring>
#include <set>
#include <thread>

#include "chunk/refs.h"
#include "cluster/cluster_node.h"
#include "cluster/erasure.h"
#include "cluster/repair_plan.h"
#include <fmt/format.h>

#include "common/logging.h"

namespace kiseki::cluster {

namespace {
constexpr auto kRepairDeadline = std::chrono::milliseconds(10000);
constexpr size_t kBatchChunks = 128;  // chunks checked and rebuilt together
constexpr size_t kBatchBytes = 4 << 20;  // the most record bytes one get or put call carries (frames: 9 MiB)
}  // namespace

Status ClusterNode::for_each_chunk(const std::function<bool(const ChunkId&, const Redundancy&)>& fn) {
  std::set<ChunkId> seen;  // a chunk counted in several shards is visited once
  for (uint32_t k = 0; k < shards_; ++k) {
    meta::Store* s = shard_stores_[k].load();
    if (!s) continue;
    auto it = s->iterator(meta::Cf::kChunkRefs);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (chunk::is_ledger_key(it->key().ToStringView())) continue;
      ChunkId id;
      if (!ChunkId::from_view(it->key().ToStringView(), &id)) continue;
      if (shards_ > 1 && !seen.insert(id).second) continue;
      auto form = chunk::decode_ref_form(it->value().ToStringView());
      if (!fn(id, form && *form ? **form : kLegacyRedundancy)) return Status::ok();
    }
    KISEKI_TRY(meta::from_rocks(it->status(), "scan chunk references"));
  }
  return Status::ok();
}

void ClusterNode::note_degraded(const ChunkId& id) {
  std::lock_guard lock(repair_mu_);
  if (repair_hints_.size() < 100000) repair_hints_.insert(id);
}

void ClusterNode::wake_repair() {
  std::lock_guard lock(repair_mu_);
  repair_wake_ = true;
  repair_cv_.notify_all();
}

std::set<uint64_t> ClusterNode::reachable(const std::vector<NodeInfo>& members) {
  // One empty presence call each.
  std::vector<NodeCall> pings;
  for (const auto& n : members) pings.push_back({n.id, FabricOp::kChunkHas, encode_keys({})});
  auto res = call_all(pings, std::chrono::milliseconds(2000));
  std::set<uint64_t> live;
  for (size_t i = 0; i < pings.size(); ++i)
    if (res[i]) live.insert(pings[i].node);
  return live;
}

void ClusterNode::repair_worker() {
  auto next = std::chrono::steady_clock::now();
  std::map<uint64_t, std::chrono::steady_clock::time_point> down_since;
  for (;;) {
    {
      std::unique_lock lock(repair_mu_);
      repair_cv_.wait_until(lock, next, [&] { return repair_wake_ || stopping_repair_; });
      if (stopping_repair_) return;
      repair_wake_ = false;
    }
    if (opts_.node_lost_after_s > 0 && root() && root()->leader() == opts_.node_id) declare_lost(&down_since);
    if (root() && chunks_.load()) repair_pass();
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.repair_interval_ms);
  }
}

void ClusterNode::declare_lost(std::map<uint64_t, std::chrono::steady_clock::time_point>* down_since) {
  // The root shard's leader declares a node lost once it has not answered for
  // the grace period: out of the map and the Raft groups, and repair rebuilds
  // what it held elsewhere. Never while this leaves fewer than two nodes that answer.
  const auto members = nodes();
  const auto live = reachable(members);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& n : members) {
    if (live.count(n.id) || n.id == opts_.node_id) {
      down_since->erase(n.id);
      continue;
    }
    auto [it, fresh] = down_since->emplace(n.id, now);
    if (fresh || now - it->second < std::chrono::seconds(opts_.node_lost_after_s) || live.size() < 2) continue;
    KLOG_WARN("cluster: node {} has not answered for {} s: declared lost, its chunks are rebuilt elsewhere", n.id,
              opts_.node_lost_after_s);
    if (Status st = remove(n.id); !st.is_ok()) {
      KLOG_WARN("cluster: removing lost node {}: {}", n.id, st.to_string());
      continue;
    }
    declared_lost_->inc();
    down_since->erase(n.id);
  }
}

ClusterNode::RepairStats ClusterNode::repair_pass() {
  std::lock_guard pass(pass_mu_);
  auto started = std::chrono::steady_clock::now();
  RepairStats stats;
  const auto active = placement_nodes();
  const auto members = nodes();
  if (active.empty()) return stats;
  const std::set<uint64_t> live = reachable(members);
  {
    std::lock_guard lock(repair_mu_);
    repair_now_ = std::make_unique<RepairStats>();
  }
  std::vector<std::pair<ChunkId, Redundancy>> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    Status st = repair_batch(batch, active, live, &stats);
    if (!st.is_ok()) KLOG_WARN("repair: a batch of {} chunks: {}", batch.size(), st.to_string());
    batch.clear();
    std::lock_guard lock(repair_mu_);
    *repair_now_ = stats;
  };
  auto consider = [&](const ChunkId& id, const Redundancy& form) {
    if (responsible_for(place(id, form, active), live) != opts_.node_id) return;
    batch.emplace_back(id, form);
    if (batch.size() >= kBatchChunks) flush();
  };
  // Chunks seen short by writes and reads first.
  std::set<ChunkId> hints;
  {
    std::lock_guard lock(repair_mu_);
    hints.swap(repair_hints_);
  }
  for (const auto& id : hints) consider(id, form_of(id));
  flush();
  Status walked = for_each_chunk([&](const ChunkId& id, const Redundancy& form) {
    consider(id, form);
    std::lock_guard lock(repair_mu_);
    return !stopping_repair_;
  });
  if (!walked.is_ok()) KLOG_WARN("repair: {}", walked.to_string());
  flush();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stats.done = true;
  chunks_degraded_->set(static_cast<int64_t>(stats.degraded - std::min(stats.degraded, stats.repaired_chunks)));
  repair_bytes_left_->set(static_cast<int64_t>(stats.bytes_to_repair - std::min(stats.bytes_to_repair, stats.repaired_bytes)));
  std::lock_guard lock(repair_mu_);
  repair_last_ = std::make_unique<RepairStats>(stats);
  ++repair_passes_;
  return stats;
}

Status ClusterNode::look_up(std::vector<ChunkView>* chunks, const std::set<uint64_t>& live, bool every_node) {
  std::vector<ChunkId> keys;
  for (const auto& c : *chunks)
    for (size_t k = 0; k < key_count(c.form); ++k) keys.push_back(key_at(c.id, c.form, k));
  std::vector<NodeCall> calls;
  for (uint64_t n : live) calls.push_back({n, FabricOp::kChunkHas, encode_keys(keys)});
  auto res = call_all(calls, kRepairDeadline);
  for (size_t c = 0; c < calls.size(); ++c) {
    if (!res[c]) {
      if (every_node) return make_error(res[c].code(), "node " + std::to_string(calls[c].node) + ": " + res[c].status().message());
      continue;  // a node that does not answer holds nothing as far as this round goes
    }
    if (res[c]->size() != keys.size() * 4) return corruption("a malformed presence answer");
    const auto* lengths = reinterpret_cast<const uint8_t*>(res[c]->data());
    size_t at = 0;
    for (auto& ch : *chunks) {
      auto& v = ch.held[calls[c].node];
      for (size_t k = 0; k < key_count(ch.form); ++k, ++at) v.push_back(get_be32(lengths + at * 4));
    }
  }
  return Status::ok();
}

Status ClusterNode::repair_batch(const std::vector<std::pair<ChunkId, Redundancy>>& batch,
                                 const std::vector<PlacementNode>& active, const std::set<uint64_t>& live,
                                 RepairStats* stats) {
  std::vector<ChunkView> chunks(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    chunks[i].id = batch[i].first;
    chunks[i].form = batch[i].second;
    chunks[i].homes = place(chunks[i].id, chunks[i].form, active);
  }
  KISEKI_TRY(look_up(&chunks, live, false));
  // What each chunk lacks, and the records its rebuilds read (all at once).
  std::vector<RepairPlan> plans(chunks.size());
  // The reads, grouped by node into calls of a bounded size (the presence
  // answers gave every record's length).
  struct Read {
    size_t chunk, key;
  };
  std::map<uint64_t, std::vector<std::vector<Read>>> reads;
  std::map<uint64_t, uint64_t> call_bytes;
  for (size_t i = 0; i < chunks.size(); ++i) {
    plans[i] = plan_repair(chunks[i], live);
    ++stats->chunks;
    if (plans[i].missing) {
      ++stats->degraded;
      stats->bytes_to_repair += plans[i].bytes_missing;
    }
    stats->unreadable += plans[i].unreadable;
    for (const auto& [node, k] : plans[i].reads) {
      uint32_t len = chunks[i].held[node][k];
      auto& calls = reads[node];
      if (calls.empty() || call_bytes[node] + len > kBatchBytes) {
        calls.emplace_back();
        call_bytes[node] = 0;
      }
      calls.back().push_back({i, k});
      call_bytes[node] += len;
    }
  }
  std::vector<NodeCall> gets;
  std::vector<const std::vector<Read>*> of_get;
  for (const auto& [node, calls] : reads)
    for (const auto& c : calls) {
      std::vector<ChunkId> keys;
      for (const auto& r : c) keys.push_back(key_at(chunks[r.chunk].id, chunks[r.chunk].form, r.key));
      gets.push_back({node, FabricOp::kChunkGetMany, encode_keys(keys)});
      of_get.push_back(&c);
    }
  // The records, as views into the answers (kept until the batch ends).
  std::vector<std::map<size_t, std::string_view>> got(chunks.size());
  auto res = call_all(gets, kRepairDeadline);
  for (size_t g = 0; g < gets.size(); ++g) {
    if (!res[g]) continue;
    Decoder d(*res[g]);
    for (const auto& r : *of_get[g]) {
      std::string_view rec = d.str();
      if (!d.ok()) break;
      if (!rec.empty()) got[r.chunk][r.key] = rec;
    }
  }
  // The bytes of every slot to rebuild, grouped by the node they go to.
  std::map<uint64_t, std::vector<std::pair<ChunkId, std::string>>> puts;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    auto& have = got[i];
    std::map<uint32_t, std::string> rebuilt_frags;  // the slots decoded, once per chunk
    for (uint32_t slot : plans[i].rebuild) {
      const size_t k = key_of_slot(c.form, slot);
      std::string bytes;
      std::string_view frag;
      if (auto it = have.find(k); it != have.end() && (!c.form.erasure_coded() || parse_fragment(it->second, &frag))) {
        bytes = it->second;  // the record itself, from where it sits
      } else if (c.form.erasure_coded()) {
        auto code = ErasureCode::get(c.form.a, c.form.b);
        if (!code) continue;
        if (rebuilt_frags.empty()) {
          // The slots that need decoding, all at once: from a whole copy, else
          // from K fragments (the map holds only fragments then).
          std::vector<uint32_t> want;
          for (uint32_t s : plans[i].rebuild)
            if (!have.count(key_of_slot(c.form, s))) want.push_back(s);
          if (auto w = have.find(c.form.slots()); w != have.end()) {
            for (uint32_t s : want) rebuilt_frags[s] = (*code)->fragment(w->second, s);
          } else {
            ErasureCode::Records frags;
            for (const auto& [key, rec] : have) frags[static_cast<uint32_t>(key)] = rec;
            auto out = (*code)->rebuild(frags, want);
            if (!out) {
              KLOG_WARN("repair: chunk {}: too few good fragments to rebuild", c.id.hex());
              break;
            }
            for (size_t w2 = 0; w2 < want.size(); ++w2) rebuilt_frags[want[w2]] = std::move((*out)[w2]);
          }
        }
        if (!rebuilt_frags.count(slot)) continue;
        bytes = std::move(rebuilt_frags[slot]);
      } else {
        continue;  // its one source did not answer: the next pass tries again
      }
      puts[c.homes[slot]].emplace_back(key_at(c.id, c.form, k), std::move(bytes));
    }
  }
  uint64_t round_bytes = 0;
  std::vector<NodeCall> calls;
  std::vector<std::vector<std::pair<ChunkId, uint32_t>>> of_call;
  for (auto& [node, ps] : puts) {
    // Several calls where one would carry too much.
    for (size_t from = 0; from < ps.size();) {
      size_t to = from, bytes = 0;
      while (to < ps.size() && (to == from || bytes + ps[to].second.size() <= kBatchBytes)) bytes += ps[to++].second.size();
      std::string payload;
      Encoder e(&payload);
      e.u32(static_cast<uint32_t>(to - from));
      std::vector<std::pair<ChunkId, uint32_t>> which;
      for (size_t p = from; p < to; ++p) {
        e.raw(ps[p].first.view()).str(ps[p].second);
        which.emplace_back(ps[p].first, static_cast<uint32_t>(ps[p].second.size()));
      }
      round_bytes += bytes;
      calls.push_back({node, FabricOp::kChunkPut, std::move(payload)});
      of_call.push_back(std::move(which));
      from = to;
    }
  }
  auto put_res = call_all(calls, kRepairDeadline);
  std::set<ChunkId> rebuilt;
  for (size_t c = 0; c < calls.size(); ++c) {
    if (!put_res[c]) {
      KLOG_WARN("repair: {} records to node {}: {}", of_call[c].size(), calls[c].node, put_res[c].status().to_string());
      continue;
    }
    for (const auto& [key, len] : of_call[c]) {
      ++stats->repaired;
      stats->repaired_bytes += len;
      repaired_slots_->inc();
      repaired_bytes_->inc(len);
      rebuilt.insert(chunk_of(key));
      // The home holds it now.
      for (auto& ch : chunks)
        if (ch.id == chunk_of(key)) {
          auto& v = ch.held[calls[c].node];
          v.resize(key_count(ch.form), 0);
          v[is_fragment_id(key) ? fragment_index(key) : 0] = len;
        }
    }
  }
  stats->repaired_chunks += rebuilt.size();
  // Chunks whose every slot is home: the records elsewhere go.
  std::map<uint64_t, std::vector<ChunkId>> drops;
  for (const auto& c : chunks)
    for (const auto& [node, k] : strays_of(c, live)) drops[node].push_back(key_at(c.id, c.form, k));
  std::vector<NodeCall> drop_calls;
  for (const auto& [node, keys] : drops) drop_calls.push_back({node, FabricOp::kChunkDrop, encode_keys(keys)});
  auto dropped = call_all(drop_calls, kRepairDeadline);
  for (size_t c = 0; c < drop_calls.size(); ++c)
    if (dropped[c]) {
      stats->strays_dropped += drops[drop_calls[c].node].size();
      dropped_strays_->inc(drops[drop_calls[c].node].size());
    }
  if (opts_.repair_rate_mib > 0 && round_bytes > 0) {
    // The rate bound: this round's bytes take their share of time.
    std::this_thread::sleep_for(std::chrono::duration<double>(static_cast<double>(round_bytes) /
                                                              (opts_.repair_rate_mib * 1048576.0)));
  }
  return Status::ok();
}

Status ClusterNode::heal(const std::vector<ChunkId>& damaged) {
  chunk::ChunkStore* cs = chunks_.load();
  if (!cs) return make_error(ErrorCode::kUnavailable, "the chunk store is not open");
  Status first = Status::ok();
  for (const auto& key : damaged) {
    // The damaged record goes first: nothing reads it again.
    KISEKI_TRY(cs->evict(key).status());
    const ChunkId id = chunk_of(key);
    Redundancy form = form_of(id);
    std::string bytes;
    Status st;
    if (is_fragment_id(key)) {
      std::string sealed;
      st = gather(id, form, &sealed);
      if (st.is_ok()) {
        auto code = ErasureCode::get(form.a, form.b);
        if (code) bytes = (*code)->fragment(sealed, fragment_index(key));
        else st = code.status();
      }
    } else {
      Bytes sealed;
      st = fetch(id, &sealed);
      bytes.assign(as_string_view(sealed));
    }
    if (st.is_ok()) st = cs->adopt(key, as_bytes(bytes)).status();
    if (!st.is_ok()) {
      KLOG_WARN("heal: {}: {}", key.hex(), st.to_string());
      note_degraded(id);
      if (first.is_ok()) first = st;
      continue;
    }
    repaired_slots_->inc();
    repaired_bytes_->inc(bytes.size());
    KLOG_INFO("heal: rebuilt {} {} from the other nodes", is_fragment_id(key) ? "fragment" : "chunk", key.hex());
  }
  KISEKI_TRY(persist_adopted());
  wake_repair();
  return first;
}

std::string ClusterNode::repair_json() const {
  auto one = [](const RepairStats& s) {
    return fmt::format(
        "{{\"chunks\":{},\"degraded\":{},\"unreadable\":{},\"bytes_to_repair\":{},\"repaired\":{},"
        "\"repaired_bytes\":{},\"strays_dropped\":{},\"seconds\":{:.3f},\"done\":{}}}",
        s.chunks, s.degraded, s.unreadable, s.bytes_to_repair, s.repaired, s.repaired_bytes, s.strays_dropped,
        s.seconds, s.done ? "true" : "false");
  };
  std::lock_guard lock(repair_mu_);
  std::string out = fmt::format("{{\"passes\":{}", repair_passes_);
  if (repair_last_) {
    out += ",\"last\":" + one(*repair_last_);
    // Degraded at the end of the last pass: found short and not rebuilt.
    uint64_t left = repair_last_->degraded - std::min(repair_last_->degraded, repair_last_->repaired_chunks);
    uint64_t bytes_left = repair_last_->bytes_to_repair - std::min(repair_last_->bytes_to_repair, repair_last_->repaired_bytes);
    double rate = repair_last_->seconds > 0 ? static_cast<double>(repair_last_->repaired_bytes) / repair_last_->seconds : 0;
    out += fmt::format(",\"chunks_degraded\":{},\"bytes_left\":{},\"rate_bytes_per_second\":{:.0f},\"eta_seconds\":{}",
                       left, bytes_left, rate, rate > 0 ? fmt::format("{:.1f}", bytes_left / rate) : "null");
  }
  if (repair_now_ && !(repair_last_ && repair_now_->chunks == repair_last_->chunks && repair_last_->done))
    out += ",\"running\":" + one(*repair_now_);
  return out + "}";
}

}  // namespace kiseki::cluster

namespace kiseki::cluster {

Result<std::string> ClusterNode::census() {
  const auto active = placement_nodes();
  const auto members = nodes();
  const std::set<uint64_t> live = reachable(members);
  uint64_t chunks = 0, whole = 0, short_of = 0, unreadable = 0, strays = 0, slots_expected = 0, slots_home = 0;
  uint64_t below = 0;  // fewer distinct fragments, or fewer copies, than the policy wants, wherever they are
  std::map<uint64_t, uint64_t> records_on;  // node → copies and fragments it holds
  std::map<uint64_t, uint64_t> bytes_on;    // node → their bytes
  std::map<std::string, uint64_t> by_form;
  std::vector<ChunkView> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    KISEKI_TRY(look_up(&batch, live, true));
    for (const auto& c : batch) {
      const RepairPlan plan = plan_repair(c, live);
      ++chunks;
      ++by_form[c.form.name()];
      slots_expected += c.form.slots();
      slots_home += c.form.slots() - plan.missing;
      (plan.missing ? short_of : whole) += 1;
      unreadable += plan.unreadable;
      below += plan.held < c.form.slots();
      for (const auto& [n, v] : c.held)
        for (size_t k = 0; k < v.size(); ++k) {
          if (!v[k]) continue;
          ++records_on[n];
          bytes_on[n] += v[k];
          strays += !is_home(c, n, k);
        }
    }
    batch.clear();
    return Status::ok();
  };
  Status flushed = Status::ok();
  KISEKI_TRY(for_each_chunk([&](const ChunkId& id, const Redundancy& form) {
    batch.push_back({id, form, place(id, form, active), {}});
    if (batch.size() >= 512) flushed = flush();
    return flushed.is_ok();
  }));
  KISEKI_TRY(flushed);
  KISEKI_TRY(flush());
  std::string nodes_json, forms_json;
  for (const auto& [n, c] : records_on) nodes_json += fmt::format("{}\"{}\":{}", nodes_json.empty() ? "" : ",", n, c);
  std::string bytes_json;
  for (const auto& [n, b] : bytes_on) bytes_json += fmt::format("{}\"{}\":{}", bytes_json.empty() ? "" : ",", n, b);
  for (const auto& [f, c] : by_form) forms_json += fmt::format("{}\"{}\":{}", forms_json.empty() ? "" : ",", f, c);
  std::string live_json;
  for (uint64_t n : live) live_json += fmt::format("{}{}", live_json.empty() ? "" : ",", n);
  return fmt::format(
      "{{\"chunks\":{},\"whole\":{},\"short\":{},\"below_target\":{},\"unreadable\":{},\"slots_expected\":{},"
      "\"slots_at_home\":{},\"strays\":{},\"by_durability\":{{{}}},\"records_by_node\":{{{}}},\"bytes_by_node\":{{{}}},\"nodes_asked\":[{}]}}",
      chunks, whole, short_of, below, unreadable, slots_expected, slots_home, strays, forms_json, nodes_json, bytes_json, live_json);
}

}  // namespace kiseki::cluster
