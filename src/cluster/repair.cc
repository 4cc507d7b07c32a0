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
#include <fmt/format.h>

#include "common/logging.h"

namespace kiseki::cluster {

namespace {
constexpr auto kRepairDeadline = std::chrono::milliseconds(10000);
constexpr size_t kBatchChunks = 128;  // chunks checked and rebuilt together
constexpr size_t kBatchBytes = 16 << 20;  // the most bytes one put call carries
}  // namespace

void ClusterNode::note_degraded(const ChunkId& id) {
  std::lock_guard lock(repair_mu_);
  if (repair_hints_.size() < 100000) repair_hints_.insert(id);
}

void ClusterNode::wake_repair() {
  std::lock_guard lock(repair_mu_);
  repair_wake_ = true;
  repair_cv_.notify_all();
}

void ClusterNode::repair_worker() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(repair_mu_);
      repair_cv_.wait_until(lock, next, [&] { return repair_wake_ || stopping_repair_; });
      if (stopping_repair_) return;
      repair_wake_ = false;
    }
    if (root() && chunks_.load()) repair_pass();
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.repair_interval_ms);
  }
}

// The state of one chunk in a batch: which node holds which of its keys.
struct ClusterNode::ChunkRepair {
  ChunkId id;
  Redundancy form;
  std::vector<uint64_t> homes;              // slot → node
  std::vector<ChunkId> keys;                // slot → key (copies: one; fragments: K+M, then the whole id)
  std::map<uint64_t, std::vector<uint32_t>> held;  // node → record length per slot (0: absent)
};

ClusterNode::RepairStats ClusterNode::repair_pass() {
  std::lock_guard pass(pass_mu_);
  auto started = std::chrono::steady_clock::now();
  RepairStats stats;
  const auto active = placement_nodes();
  const auto members = nodes();
  if (active.empty()) return stats;
  // Who answers now (one empty presence call each).
  std::set<uint64_t> live;
  {
    std::vector<NodeCall> pings;
    for (const auto& n : members) pings.push_back({n.id, FabricOp::kChunkHas, encode_keys({})});
    auto res = call_all(pings, std::chrono::milliseconds(2000));
    for (size_t i = 0; i < pings.size(); ++i)
      if (res[i]) live.insert(pings[i].node);
  }
  {
    std::lock_guard lock(repair_mu_);
    repair_now_ = std::make_unique<RepairStats>();
  }
  std::vector<std::pair<ChunkId, Redundancy>> batch;
  std::set<ChunkId> seen;  // a chunk referenced from several shards is looked at once
  auto flush = [&] {
    if (batch.empty()) return;
    Status st = repair_batch(batch, active, live, &stats);
    if (!st.is_ok()) KLOG_WARN("repair: a batch of {} chunks: {}", batch.size(), st.to_string());
    batch.clear();
    std::lock_guard lock(repair_mu_);
    *repair_now_ = stats;
  };
  auto consider = [&](const ChunkId& id, const Redundancy& form) {
    if (shards_ > 1 && !seen.insert(id).second) return;
    auto homes = place(id, form, active);
    // The first live home takes care of it; with none live, the live node of
    // the lowest id.
    uint64_t responsible = 0;
    for (uint64_t h : homes)
      if (live.count(h)) {
        responsible = h;
        break;
      }
    if (!responsible && !live.empty()) responsible = *live.begin();
    if (responsible != opts_.node_id) return;
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
  seen.clear();
  for (uint32_t k = 0; k < shards_; ++k) {
    meta::Store* s = shard_stores_[k].load();
    if (!s) continue;
    auto it = s->iterator(meta::Cf::kChunkRefs);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (chunk::is_ledger_key(it->key().ToStringView())) continue;
      ChunkId id;
      if (!ChunkId::from_view(it->key().ToStringView(), &id)) continue;
      auto form = chunk::decode_ref_form(it->value().ToStringView());
      consider(id, form && *form ? **form : kLegacyRedundancy);
      {
        std::lock_guard lock(repair_mu_);
        if (stopping_repair_) return stats;
      }
    }
  }
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

Status ClusterNode::repair_batch(const std::vector<std::pair<ChunkId, Redundancy>>& batch,
                                 const std::vector<PlacementNode>& active, const std::set<uint64_t>& live,
                                 RepairStats* stats) {
  std::vector<ChunkRepair> chunks(batch.size());
  std::vector<ChunkId> all_keys;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& c = chunks[i];
    c.id = batch[i].first;
    c.form = batch[i].second;
    c.homes = place(c.id, c.form, active);
    // Copies share one key; fragments have one each, and a whole copy of an
    // erasure-coded chunk (a writer's that stayed) is looked for last.
    for (uint32_t s = 0; s < (c.form.erasure_coded() ? c.form.slots() : 1); ++s)
      c.keys.push_back(slot_key(c.id, c.form, s));
    if (c.form.erasure_coded()) c.keys.push_back(c.id);
    all_keys.insert(all_keys.end(), c.keys.begin(), c.keys.end());
  }
  // Where every key is: one presence call per live node.
  {
    std::vector<NodeCall> calls;
    for (uint64_t n : live) calls.push_back({n, FabricOp::kChunkHas, encode_keys(all_keys)});
    auto res = call_all(calls, kRepairDeadline);
    for (size_t c = 0; c < calls.size(); ++c) {
      if (!res[c]) continue;
      if (res[c]->size() != all_keys.size() * 4) return corruption("repair: a malformed presence answer");
      size_t at = 0;
      for (auto& ch : chunks) {
        auto& v = ch.held[calls[c].node];
        for (size_t s = 0; s < ch.keys.size(); ++s, ++at)
          v.push_back(get_be32(reinterpret_cast<const uint8_t*>(res[c]->data()) + at * 4));
      }
    }
  }
  // What each chunk lacks, and where its bytes can come from.
  struct Want {
    size_t chunk;
    uint32_t slot;
    uint64_t node;  // the home that lacks it
  };
  std::vector<Want> wants;
  std::vector<NodeCall> gets;
  std::vector<std::pair<size_t, uint32_t>> of_get;  // chunk, key index
  for (size_t i = 0; i < chunks.size(); ++i) {
    auto& c = chunks[i];
    ++stats->chunks;
    auto holds = [&](uint64_t node, size_t key) {
      auto it = c.held.find(node);
      return it != c.held.end() && it->second[key] != 0;
    };
    auto key_of_slot = [&](uint32_t s) -> size_t { return c.form.erasure_coded() ? s : 0; };
    uint32_t missing = 0, missing_live = 0;
    uint64_t slot_bytes = 0;
    for (const auto& [n, v] : c.held)
      for (uint32_t len : v) slot_bytes = std::max<uint64_t>(slot_bytes, len);
    std::vector<uint32_t> lacking;
    for (uint32_t s = 0; s < c.form.slots() && s < c.homes.size(); ++s) {
      if (holds(c.homes[s], key_of_slot(s))) continue;
      ++missing;
      if (live.count(c.homes[s])) {
        ++missing_live;
        lacking.push_back(s);
      }
    }
    // Distinct keys held anywhere: a chunk with fewer than it needs is lost
    // until a node that holds more comes back.
    auto somewhere = [&](size_t k) {
      for (const auto& [n, v] : c.held)
        if (v[k]) return true;
      return false;
    };
    const size_t whole = c.form.erasure_coded() ? c.form.slots() : 0;  // the key of a whole copy
    uint32_t distinct = 0;
    for (size_t k = 0; k < (c.form.erasure_coded() ? whole : 1); ++k) distinct += somewhere(k);
    if (c.form.erasure_coded() && somewhere(whole)) distinct = c.form.needed();
    if (missing) {
      ++stats->degraded;
      stats->bytes_to_repair += missing * slot_bytes;
    }
    if (distinct < c.form.needed()) {
      if (missing) ++stats->unreadable;
      continue;
    }
    for (uint32_t s : lacking) wants.push_back({i, s, c.homes[s]});
    if (lacking.empty()) continue;
    // Sources: for copies, one node that holds it; for fragments, the
    // lacking fragment itself where a node holds it (a stray), else any K.
    std::set<size_t> need_keys;
    bool decode = false;
    for (uint32_t s : lacking) {
      size_t k = key_of_slot(s);
      if (somewhere(k)) need_keys.insert(k);
      else decode = true;
    }
    // A rebuild reads a whole copy where one is about, else any K fragments.
    if (decode && c.form.erasure_coded() && somewhere(whole)) {
      need_keys.insert(whole);
    } else if (decode) {
      for (size_t k = 0, taken = 0; k < whole && taken < c.form.needed(); ++k)
        if (somewhere(k)) {
          need_keys.insert(k);
          ++taken;
        }
    }
    for (size_t k : need_keys)
      for (const auto& [n, v] : c.held)
        if (v[k]) {
          gets.push_back({n, FabricOp::kChunkGet, std::string(c.keys[k].view())});
          of_get.emplace_back(i, static_cast<uint32_t>(k));
          break;
        }
  }
  if (wants.empty()) {
    drop_strays(chunks, live, stats);
    return Status::ok();
  }
  // Fetch what the rebuilds need, all at once.
  std::vector<std::map<uint32_t, std::string>> got(chunks.size());
  auto res = call_all(gets, kRepairDeadline);
  for (size_t g = 0; g < gets.size(); ++g)
    if (res[g]) got[of_get[g].first][of_get[g].second] = std::move(*res[g]);
  // The bytes of every wanted slot, grouped by the node they go to.
  std::map<uint64_t, std::vector<std::pair<ChunkId, std::string>>> puts;
  std::vector<std::string> sealed_of(chunks.size());
  std::vector<bool> decoded(chunks.size(), false);
  for (const auto& w : wants) {
    auto& c = chunks[w.chunk];
    auto& have = got[w.chunk];
    std::string bytes;
    if (!c.form.erasure_coded()) {
      if (!have.count(0)) continue;
      bytes = have[0];
    } else if (auto it = have.find(w.slot); it != have.end()) {
      std::string_view frag;
      if (!parse_fragment(it->second, &frag)) continue;
      bytes = it->second;
    } else {
      auto code = ErasureCode::get(c.form.a, c.form.b);
      if (!code) continue;
      const uint32_t whole = c.form.slots();
      if (!decoded[w.chunk] && have.count(whole)) {
        sealed_of[w.chunk] = have[whole];
        decoded[w.chunk] = true;
      }
      if (!decoded[w.chunk]) {
        std::vector<uint32_t> bad;
        if (!(*code)->decode(have, &sealed_of[w.chunk], &bad).is_ok()) {
          KLOG_WARN("repair: chunk {}: too few good fragments to rebuild", c.id.hex());
          continue;
        }
        decoded[w.chunk] = true;
      }
      bytes = (*code)->fragment(sealed_of[w.chunk], w.slot);
    }
    puts[w.node].emplace_back(c.keys[c.form.erasure_coded() ? w.slot : 0], std::move(bytes));
  }
  // Rate: the bytes of this round, at the configured rate (a token bucket of one round).
  uint64_t round_bytes = 0;
  for (const auto& [n, ps] : puts)
    for (const auto& p : ps) round_bytes += p.second.size();
  std::vector<NodeCall> calls;
  std::vector<std::vector<std::pair<ChunkId, uint64_t>>> of_call;
  for (auto& [node, ps] : puts) {
    // Several calls where one would carry too much.
    for (size_t from = 0; from < ps.size();) {
      std::string payload;
      std::vector<std::pair<ChunkId, uint64_t>> which;
      size_t to = from, bytes = 0;
      while (to < ps.size() && (to == from || bytes + ps[to].second.size() <= kBatchBytes)) bytes += ps[to++].second.size();
      Encoder e(&payload);
      e.u32(static_cast<uint32_t>(to - from));
      for (size_t p = from; p < to; ++p) {
        e.raw(ps[p].first.view()).str(ps[p].second);
        which.emplace_back(ps[p].first, ps[p].second.size());
      }
      calls.push_back({node, FabricOp::kChunkPut, std::move(payload)});
      of_call.push_back(std::move(which));
      from = to;
    }
  }
  auto put_res = call_all(calls, kRepairDeadline);
  std::set<ChunkId> rebuilt_chunks;
  for (size_t c = 0; c < calls.size(); ++c) {
    if (!put_res[c]) {
      KLOG_WARN("repair: {} pieces to node {}: {}", of_call[c].size(), calls[c].node, put_res[c].status().to_string());
      continue;
    }
    for (const auto& [key, len] : of_call[c]) {
      ++stats->repaired;
      stats->repaired_bytes += len;
      repaired_slots_->inc();
      repaired_bytes_->inc(len);
      rebuilt_chunks.insert(chunk_of(key));
      // The home holds it now.
      for (auto& ch : chunks)
        if (ch.id == chunk_of(key)) {
          size_t k = ch.form.erasure_coded() ? fragment_index(key) : 0;
          auto& v = ch.held[calls[c].node];
          if (v.size() < ch.keys.size()) v.resize(ch.keys.size(), 0);
          v[k] = static_cast<uint32_t>(len);
        }
    }
  }
  stats->repaired_chunks += rebuilt_chunks.size();
  drop_strays(chunks, live, stats);
  if (opts_.repair_rate_mib > 0) {
    auto want = std::chrono::duration<double>(static_cast<double>(round_bytes) / (opts_.repair_rate_mib * 1048576.0));
    std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(want));
  }
  return Status::ok();
}

void ClusterNode::drop_strays(const std::vector<ChunkRepair>& chunks, const std::set<uint64_t>& live,
                              RepairStats* stats) {
  // A chunk whose every slot is held by its live home: the copies elsewhere go.
  std::map<uint64_t, std::vector<ChunkId>> drops;
  for (const auto& c : chunks) {
    bool whole = c.homes.size() == c.form.slots();
    for (uint32_t s = 0; whole && s < c.homes.size(); ++s) {
      auto it = c.held.find(c.homes[s]);
      size_t k = c.form.erasure_coded() ? s : 0;
      whole = live.count(c.homes[s]) && it != c.held.end() && it->second.size() > k && it->second[k] != 0;
    }
    if (!whole) continue;
    for (const auto& [node, v] : c.held)
      for (size_t k = 0; k < v.size(); ++k) {
        if (!v[k]) continue;
        // A whole copy of an erasure-coded chunk (k = K+M) is nobody's home.
        bool home = false;
        for (uint32_t s = 0; s < c.homes.size(); ++s)
          home |= c.homes[s] == node && (c.form.erasure_coded() ? s == k : true);
        if (!home) drops[node].push_back(c.keys[k]);
      }
  }
  std::vector<NodeCall> calls;
  for (const auto& [node, keys] : drops) calls.push_back({node, FabricOp::kChunkDrop, encode_keys(keys)});
  auto res = call_all(calls, kRepairDeadline);
  for (size_t c = 0; c < calls.size(); ++c)
    if (res[c]) {
      stats->strays_dropped += drops[calls[c].node].size();
      dropped_strays_->inc(drops[calls[c].node].size());
    }
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
  std::set<uint64_t> live;
  {
    std::vector<NodeCall> pings;
    for (const auto& n : members) pings.push_back({n.id, FabricOp::kChunkHas, encode_keys({})});
    auto res = call_all(pings, std::chrono::milliseconds(2000));
    for (size_t i = 0; i < pings.size(); ++i)
      if (res[i]) live.insert(pings[i].node);
  }
  uint64_t chunks = 0, whole = 0, short_of = 0, unreadable = 0, strays = 0, slots_expected = 0, slots_home = 0;
  uint64_t below = 0;  // fewer distinct fragments, or fewer copies, than the policy wants, wherever they are
  std::map<uint64_t, uint64_t> records_on;  // node → copies and fragments it holds
  std::map<std::string, uint64_t> by_form;
  std::vector<std::pair<ChunkId, Redundancy>> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    std::vector<std::vector<ChunkId>> keys(batch.size());
    std::vector<ChunkId> all;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& [id, form] = batch[i];
      for (uint32_t s = 0; s < (form.erasure_coded() ? form.slots() : 1); ++s) keys[i].push_back(slot_key(id, form, s));
      if (form.erasure_coded()) keys[i].push_back(id);
      all.insert(all.end(), keys[i].begin(), keys[i].end());
    }
    std::vector<NodeCall> calls;
    for (uint64_t n : live) calls.push_back({n, FabricOp::kChunkHas, encode_keys(all)});
    auto res = call_all(calls, std::chrono::milliseconds(10000));
    std::map<uint64_t, std::string> held;
    for (size_t c = 0; c < calls.size(); ++c) {
      if (!res[c]) return make_error(res[c].code(), "census: node " + std::to_string(calls[c].node) + ": " + res[c].status().message());
      if (res[c]->size() != all.size() * 4) return corruption("census: a malformed presence answer");
      held[calls[c].node] = std::move(*res[c]);
    }
    size_t at = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& [id, form] = batch[i];
      auto homes = place(id, form, active);
      auto has = [&](uint64_t node, size_t k) {
        auto it = held.find(node);
        return it != held.end() && get_be32(reinterpret_cast<const uint8_t*>(it->second.data()) + (at + k) * 4) != 0;
      };
      ++chunks;
      ++by_form[form.name()];
      uint32_t at_home = 0, distinct = 0, copies = 0;
      for (uint32_t s = 0; s < form.slots() && s < homes.size(); ++s) at_home += has(homes[s], form.erasure_coded() ? s : 0);
      slots_expected += form.slots();
      slots_home += at_home;
      const size_t nkeys = keys[i].size();
      for (size_t k = 0; k < nkeys; ++k) {
        bool any = false;
        for (uint64_t n : live) {
          if (!has(n, k)) continue;
          any = true;
          ++records_on[n];
          copies += !form.erasure_coded();
          bool home = false;
          for (uint32_t s = 0; s < homes.size(); ++s) home |= homes[s] == n && (form.erasure_coded() ? s == k : true);
          strays += !home;
        }
        if (k < (form.erasure_coded() ? form.slots() : 1)) distinct += any;
        else if (any) distinct = std::max(distinct, form.needed());
      }
      if (at_home == form.slots()) ++whole;
      else ++short_of;
      if (distinct < form.needed()) ++unreadable;
      if (form.erasure_coded() ? distinct < form.slots() : copies < form.slots()) ++below;
      at += nkeys;
    }
    batch.clear();
    return Status::ok();
  };
  std::set<ChunkId> seen;
  for (uint32_t k = 0; k < shards_; ++k) {
    meta::Store* s = shard_stores_[k].load();
    if (!s) continue;
    auto it = s->iterator(meta::Cf::kChunkRefs);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (chunk::is_ledger_key(it->key().ToStringView())) continue;
      ChunkId id;
      if (!ChunkId::from_view(it->key().ToStringView(), &id) || !seen.insert(id).second) continue;
      auto form = chunk::decode_ref_form(it->value().ToStringView());
      batch.emplace_back(id, form && *form ? **form : kLegacyRedundancy);
      if (batch.size() >= 512) KISEKI_TRY(flush());
    }
    KISEKI_TRY(meta::from_rocks(it->status(), "census: scan chunk references"));
  }
  KISEKI_TRY(flush());
  std::string nodes_json, forms_json;
  for (const auto& [n, c] : records_on) nodes_json += fmt::format("{}\"{}\":{}", nodes_json.empty() ? "" : ",", n, c);
  for (const auto& [f, c] : by_form) forms_json += fmt::format("{}\"{}\":{}", forms_json.empty() ? "" : ",", f, c);
  std::string live_json;
  for (uint64_t n : live) live_json += fmt::format("{}{}", live_json.empty() ? "" : ",", n);
  return fmt::format(
      "{{\"chunks\":{},\"whole\":{},\"short\":{},\"below_target\":{},\"unreadable\":{},\"slots_expected\":{},"
      "\"slots_at_home\":{},\"strays\":{},\"by_durability\":{{{}}},\"records_by_node\":{{{}}},\"nodes_asked\":[{}]}}",
      chunks, whole, short_of, below, unreadable, slots_expected, slots_home, strays, forms_json, nodes_json, live_json);
}

}  // namespace kiseki::cluster
