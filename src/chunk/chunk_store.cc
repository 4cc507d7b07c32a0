#include "chunk/chunk_store.h"

#include <algorithm>
#include <set>

#include "chunk/refs.h"
#include "common/logging.h"
#include "common/kill_point.h"

namespace kiseki::chunk {

using meta::Cf;

std::string encode_location(const Location& loc) {
  std::string v;
  Encoder(&v).u64(loc.segment).u64(loc.offset).u32(loc.length);
  return v;
}

bool decode_location(std::string_view v, Location* loc) {
  Decoder d(v);
  loc->segment = d.u64();
  loc->offset = d.u64();
  loc->length = d.u32();
  return d.ok() && d.done();
}

ChunkStore::ChunkStore(meta::Store* meta, SegmentStore* segments, const crypto::KeyManager* keys)
    : meta_(meta), segments_(segments), cipher_(keys) {
  auto& m = MetricsRegistry::global();
  dedup_hits_ = m.counter("kiseki_chunk_dedup_hits_total", "Chunk writes answered by an existing chunk");
  dedup_misses_ = m.counter("kiseki_chunk_dedup_misses_total", "Chunk writes that stored a new chunk");
  bytes_sealed_ = m.counter("kiseki_crypto_bytes_sealed_total", "Plaintext bytes sealed with AES-256-GCM");
  bytes_opened_ = m.counter("kiseki_crypto_bytes_opened_total", "Plaintext bytes opened with AES-256-GCM");
  collected_ = m.counter("kiseki_chunk_collected_total", "Unreferenced chunks removed from the location table");
}

ChunkStore::~ChunkStore() {
  // Pending changes are rebuildable (open collects and drops what they would
  // have), but writing them saves that work.
  Status st = flush_local();
  if (!st.is_ok()) KLOG_WARN("chunk store: pending locations not written at close: {}", st.to_string());
}

Status ChunkStore::flush_local() {
  constexpr uint64_t kOwn = ~uint64_t{0};
  rocksdb::WriteBatch b;
  add_local_writes(&b, kOwn);
  Status st = b.Count() ? meta_->write(&b, false) : Status::ok();
  commit_local_writes(kOwn, st.is_ok());
  return st;
}

Result<std::unique_ptr<ChunkStore>> ChunkStore::open(meta::Store* meta, SegmentStore* segments,
                                                     const crypto::KeyManager* keys,
                                                     std::vector<const meta::Store*> more_refs) {
  std::unique_ptr<ChunkStore> cs(new ChunkStore(meta, segments, keys));
  cs->more_refs_ = std::move(more_refs);
  KISEKI_TRY(cs->sweep());
  return cs;
}

Result<uint64_t> ChunkStore::references(const ChunkId& key) const {
  // A fragment lives as long as its chunk is referenced.
  const ChunkId id = chunk_of(key);
  KISEKI_ASSIGN_OR_RETURN(uint64_t n, ref_count(*meta_, id));
  for (const meta::Store* s : more_refs_) {
    if (n > 0) break;
    KISEKI_ASSIGN_OR_RETURN(n, ref_count(*s, id));
  }
  return n;
}

namespace {
constexpr std::string_view kDamageKey = "damage-at-open";  // default CF: what an open found lost
}  // namespace

Status ChunkStore::sweep() {
  std::map<SegmentId, uint64_t> sizes;
  for (SegmentId s : segments_->segments()) sizes[s] = segments_->segment_size(s);
  rocksdb::WriteBatch drop;
  size_t dropped = 0, lost = 0;
  std::set<SegmentId> lost_in;
  auto it = meta_->iterator(Cf::kChunkLocs);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ChunkId id;
    Location loc;
    if (!ChunkId::from_view(it->key().ToStringView(), &id) || !decode_location(it->value().ToStringView(), &loc))
      return corruption("chunk location table: malformed entry");
    note_key(id);
    auto s = sizes.find(loc.segment);
    if (s != sizes.end() && loc.offset + loc.record_size() <= s->second) {
      add_live(loc.segment, static_cast<int64_t>(loc.record_size()));
      continue;
    }
    // Past the end of what recovery kept: a record whose write never became
    // durable. Harmless unless something references it.
    KISEKI_ASSIGN_OR_RETURN(uint64_t refs, references(id));
    if (refs > 0) {
      ++lost;
      lost_in.insert(loc.segment);
      KLOG_ERROR("chunk {} is referenced {} times but its record at segment {} offset {} is gone", id.hex(), refs,
                 loc.segment, loc.offset);
    }
    drop.Delete(meta_->cf(Cf::kChunkLocs), it->key());
    ++dropped;
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan chunk locations"));
  // Damage found by an earlier open stays reported until a clean scrub (node-local).
  std::string earlier;
  if (meta_->get(Cf::kDefault, kDamageKey, &earlier).is_ok()) lost_at_open_ = earlier;
  if (lost) {
    // Acknowledged data is gone: the reads that need it fail (never other
    // bytes), scrub lists the chunks (their references stay), and the server
    // says it is degraded.
    std::string segs;
    for (SegmentId s : lost_in) segs += (segs.empty() ? "" : ", ") + segment_file_name(s);
    lost_at_open_ = std::to_string(lost) + " referenced chunks have no bytes on disk (segment " + segs +
                    " missing or cut short)";
    KLOG_ERROR("chunk store: {}", lost_at_open_);
    drop.Put(meta_->cf(Cf::kDefault), rocksdb::Slice(kDamageKey.data(), kDamageKey.size()), lost_at_open_);
  }
  if (dropped) KLOG_WARN("chunk store: dropped {} locations past recovered segment ends", dropped);
  if (drop.Count() > 0) KISEKI_TRY(meta_->write(&drop, true));
  KISEKI_ASSIGN_OR_RETURN(size_t collected, collect_garbage());
  if (collected) KLOG_INFO("chunk store: collected {} unreferenced chunks at open", collected);
  return Status::ok();
}

void ChunkStore::add_live(SegmentId seg, int64_t bytes) {
  std::lock_guard lock(live_mu_);
  int64_t v = static_cast<int64_t>(live_[seg]) + bytes;
  if (v <= 0) live_.erase(seg);
  else live_[seg] = static_cast<uint64_t>(v);
}

uint64_t ChunkStore::live_bytes(SegmentId seg) const {
  std::lock_guard lock(live_mu_);
  auto it = live_.find(seg);
  return it == live_.end() ? 0 : it->second;
}

Result<PreparedChunk> ChunkStore::pin_existing(const ChunkId& id) {
  Stripe& s = stripe(id);
  std::lock_guard lock(s.mu);
  KISEKI_ASSIGN_OR_RETURN(std::optional<Location> loc, find_locked(s, id));
  if (!loc) return not_found("chunk " + id.hex() + " has no copy here");
  PreparedChunk p;
  p.id = id;
  p.pin = pin_locked(s, id);
  return p;
}

std::shared_ptr<const void> ChunkStore::pin_locked(Stripe& s, const ChunkId& id) {
  ++s.pins[id];
  return std::shared_ptr<const void>(nullptr, [this, &s, id](const void*) {
    std::lock_guard lock(s.mu);
    auto it = s.pins.find(id);
    if (it == s.pins.end() || --it->second > 0) return;
    s.pins.erase(it);
    const bool backed = s.backed.erase(id) > 0;
    const bool passed_over = s.passed_over.erase(id) > 0;
    if (s.evict_on_release.count(id)) {
      // Its copies live elsewhere now (a cluster placed them).
      if (auto r = evict_locked(s, id); !r) KLOG_WARN("chunk {}: eviction failed: {}", id.hex(), r.status().to_string());
      return;
    }
    // A committed record references it, and no collection since had to pass
    // it over: its count is not zero.
    if (backed && !passed_over) return;
    // The last writer holding it is done: if its delta failed or its final
    // layout did not keep the chunk, nothing references it.
    auto r = collect_locked(s, id);
    if (!r) KLOG_WARN("chunk {}: collection failed: {}", id.hex(), r.status().to_string());
  });
}

Result<std::optional<Location>> ChunkStore::find_locked(const Stripe& s, const ChunkId& id) const {
  if (auto it = s.pending.find(id); it != s.pending.end()) return it->second.loc;
  return stored_location(id);
}

Result<std::optional<Location>> ChunkStore::stored_location(const ChunkId& id) const {
  std::string v;
  Status st = meta_->get(Cf::kChunkLocs, id.view(), &v);
  if (st.code() == ErrorCode::kNotFound) return std::optional<Location>();
  KISEKI_TRY(st);
  Location loc;
  if (!decode_location(v, &loc)) return corruption("chunk location " + id.hex());
  return std::optional<Location>(loc);
}

void ChunkStore::pend_locked(Stripe& s, const ChunkId& id, std::optional<Location> loc) {
  auto [it, added] = s.pending.insert_or_assign(id, PendingLocation{loc, 0});
  if (added) pending_count_.fetch_add(1);
}

void ChunkStore::add_local_writes(rocksdb::WriteBatch* batch, uint64_t group) {
  if (pending_count_.load() == 0) return;
  for (auto& s : stripes_) {
    std::lock_guard lock(s.mu);
    for (auto& [id, p] : s.pending) {
      if (p.group != 0) continue;
      rocksdb::Slice key(id.view().data(), id.view().size());
      if (p.loc) batch->Put(meta_->cf(Cf::kChunkLocs), key, encode_location(*p.loc));
      else batch->Delete(meta_->cf(Cf::kChunkLocs), key);
      p.group = group;
    }
  }
}

void ChunkStore::commit_local_writes(uint64_t group, bool written) {
  if (pending_count_.load() == 0) return;
  for (auto& s : stripes_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.pending.begin(); it != s.pending.end();) {
      if (it->second.group != group) {
        ++it;
      } else if (written) {
        it = s.pending.erase(it);
        pending_count_.fetch_sub(1);
      } else {
        it->second.group = 0;  // the next group writes it
        ++it;
      }
    }
  }
}

Result<Location> ChunkStore::locate(const ChunkId& id) const {
  Stripe& s = stripe(id);
  std::optional<Location> loc;
  if (pending_count_.load() == 0) {
    // Nothing pending anywhere: no stripe to take (a change that lands meanwhile
    // is one this read may as well have preceded).
    KISEKI_ASSIGN_OR_RETURN(loc, stored_location(id));
  } else {
    std::lock_guard lock(s.mu);
    KISEKI_ASSIGN_OR_RETURN(loc, find_locked(s, id));
  }
  if (!loc) return not_found("chunk " + id.hex() + " has no bytes on this node");
  return *loc;
}

Result<PreparedChunk> ChunkStore::prepare(const crypto::DomainKeys& domain, const ChunkId& id,
                                          ByteSpan plaintext) {
  if (domain_of(id) != domain.domain) return invalid_argument("chunk " + id.hex() + " is of another domain");
  PreparedChunk p{id, static_cast<uint32_t>(plaintext.size()), std::nullopt, nullptr};
  Stripe& s = stripe(id);
  {
    std::lock_guard lock(s.mu);
    KISEKI_ASSIGN_OR_RETURN(std::optional<Location> have, find_locked(s, id));
    p.pin = pin_locked(s, id);
    if (have) {
      dedup_hits_->inc();
      return p;
    }
  }
  dedup_misses_->inc();
  thread_local Bytes sealed;
  sealed.resize(plaintext.size() + crypto::kSealOverhead);
  KISEKI_TRY(cipher_.seal(domain, id, plaintext, sealed.data()));
  bytes_sealed_->inc(plaintext.size());
  KISEKI_ASSIGN_OR_RETURN(Location loc, segments_->append(id, sealed));
  p.stored = loc;
  std::lock_guard lock(s.mu);
  // A concurrent writer of the same new chunk may have recorded its copy first
  // (its change is pending until a group commit writes it): then this copy is
  // dead space, left for compaction.
  auto racing = s.pending.find(id);
  if (racing == s.pending.end() || !racing->second.loc) {
    pend_locked(s, id, loc);
    add_live(loc.segment, static_cast<int64_t>(loc.record_size()));
  }
  return p;
}

Status ChunkStore::sync(const std::vector<PreparedChunk>& chunks) {
  // Records are appended in order, so syncing the last one of each segment covers
  // the rest of that segment.
  std::map<SegmentId, Location> last;
  for (const auto& c : chunks)
    if (c.stored) {
      auto& l = last[c.stored->segment];
      if (c.stored->offset >= l.offset) l = *c.stored;
    }
  for (const auto& [seg, loc] : last) KISEKI_TRY(segments_->sync(loc));
  return Status::ok();
}

Result<Location> ChunkStore::adopt(const ChunkId& id, ByteSpan sealed) {
  Stripe& s = stripe(id);
  std::lock_guard lock(s.mu);
  KISEKI_ASSIGN_OR_RETURN(std::optional<Location> have, find_locked(s, id));
  if (have) return *have;
  KISEKI_ASSIGN_OR_RETURN(Location loc, segments_->append(id, sealed));
  pend_locked(s, id, loc);
  add_live(loc.segment, static_cast<int64_t>(loc.record_size()));
  note_key(id);
  return loc;
}

Result<bool> ChunkStore::evict(const ChunkId& key) {
  Stripe& s = stripe(key);
  std::lock_guard lock(s.mu);
  return evict_locked(s, key);
}

void ChunkStore::evict_when_unpinned(const ChunkId& key) {
  Stripe& s = stripe(key);
  std::lock_guard lock(s.mu);
  if (s.pins.count(key)) {
    s.evict_on_release.insert(key);
    return;
  }
  if (auto r = evict_locked(s, key); !r) KLOG_WARN("chunk {}: eviction failed: {}", key.hex(), r.status().to_string());
}

Result<bool> ChunkStore::evict_locked(Stripe& s, const ChunkId& key) {
  s.evict_on_release.erase(key);
  KISEKI_ASSIGN_OR_RETURN(std::optional<Location> loc, find_locked(s, key));
  if (!loc) return false;
  pend_locked(s, key, std::nullopt);
  add_live(loc->segment, -static_cast<int64_t>(loc->record_size()));
  return true;
}

Status ChunkStore::read_sealed(const ChunkId& id, Bytes* sealed) const {
  auto loc = locate(id);
  if (!loc) {
    if (loc.code() == ErrorCode::kNotFound) return corruption("chunk " + id.hex() + " has no bytes on this node");
    return loc.status();
  }
  return segments_->read(id, *loc, sealed);
}

Status ChunkStore::read(const crypto::DomainKeys& domain, const ChunkId& id, Bytes* out) const {
  thread_local Bytes sealed;
  KISEKI_TRY(read_sealed(id, &sealed));
  return open_sealed(domain, id, sealed, out);
}

Status ChunkStore::open_sealed(const crypto::DomainKeys& domain, const ChunkId& id, ByteSpan sealed,
                               Bytes* out) const {
  if (sealed.size() < crypto::kSealOverhead) return corruption("sealed chunk too short");
  out->resize(sealed.size() - crypto::kSealOverhead);
  KISEKI_TRY(cipher_.open(domain, id, sealed, out->data()));
  bytes_opened_->inc(out->size());
  return Status::ok();
}

Result<bool> ChunkStore::collect_locked(Stripe& s, const ChunkId& id) {
  if (s.pins.count(id)) {
    s.passed_over.insert(id);  // the last pin's release looks again
    return false;
  }
  KISEKI_ASSIGN_OR_RETURN(uint64_t refs, references(id));
  if (refs > 0) return false;
  KISEKI_ASSIGN_OR_RETURN(std::optional<Location> loc, find_locked(s, id));
  if (!loc) return false;
  pend_locked(s, id, std::nullopt);
  add_live(loc->segment, -static_cast<int64_t>(loc->record_size()));
  collected_->inc();
  return true;
}

size_t ChunkStore::release(const std::vector<ChunkId>& ids) {
  size_t n = 0;
  const int fragments = max_fragment_.load();
  for (const auto& id : ids) {
    for (int i = -1; i <= fragments; ++i) {
      const ChunkId key = i < 0 ? id : fragment_id(id, static_cast<uint32_t>(i));
      Stripe& s = stripe(key);
      std::lock_guard lock(s.mu);
      if (i >= 0) {
        auto held = find_locked(s, key);  // most fragments of a chunk are on other nodes
        if (!held || !*held) continue;
      }
      auto r = collect_locked(s, key);
      if (!r) KLOG_WARN("chunk {}: collection failed: {}", key.hex(), r.status().to_string());
      else n += *r;
    }
  }
  return n;
}

void ChunkStore::referenced(const std::vector<ChunkId>& ids) {
  for (const auto& id : ids) {
    Stripe& s = stripe(id);
    std::lock_guard lock(s.mu);
    if (s.pins.count(id)) s.backed.insert(id);
  }
}

Result<size_t> ChunkStore::collect_garbage(std::optional<DomainId> domain) {
  // Unreferenced chunks are those with a location but no reference count: walk
  // both tables in chunk id order.
  std::vector<ChunkId> candidates;
  auto locs = meta_->iterator(Cf::kChunkLocs);
  auto refs = meta_->iterator(Cf::kChunkRefs);
  std::string prefix = domain ? meta::key_u64(*domain) : std::string();
  refs->Seek(prefix);
  for (locs->Seek(prefix); locs->Valid() && locs->key().starts_with(prefix); locs->Next()) {
    while (refs->Valid() && refs->key().compare(locs->key()) < 0) refs->Next();
    if (refs->Valid() && refs->key() == locs->key()) continue;
    ChunkId id;
    if (ChunkId::from_view(locs->key().ToStringView(), &id)) candidates.push_back(id);
  }
  KISEKI_TRY(meta::from_rocks(locs->status(), "scan chunk locations"));
  KISEKI_TRY(meta::from_rocks(refs->status(), "scan chunk references"));
  // Fragments sort after every chunk (byte 0 ≥ 0x80): each asks for its chunk's count.
  auto frags = meta_->iterator(Cf::kChunkLocs);
  for (frags->Seek(std::string(1, '\x80')); frags->Valid(); frags->Next()) {
    ChunkId key;
    if (!ChunkId::from_view(frags->key().ToStringView(), &key) || !is_fragment_id(key)) continue;
    if (domain && domain_of(chunk_of(key)) != *domain) continue;
    candidates.push_back(key);
  }
  KISEKI_TRY(meta::from_rocks(frags->status(), "scan fragment locations"));
  size_t n = 0;
  for (const auto& id : candidates) {
    Stripe& s = stripe(id);
    std::lock_guard lock(s.mu);
    KISEKI_ASSIGN_OR_RETURN(bool gone, collect_locked(s, id));
    n += gone;
  }
  return n;
}

Result<CompactStats> ChunkStore::compact(double threshold) {
  KISEKI_TRY(collect_garbage().status());
  CompactStats stats;
  auto worth = [&](SegmentId seg) {
    uint64_t size = segments_->segment_size(seg);
    return size == 0 || static_cast<double>(live_bytes(seg)) / static_cast<double>(size) < threshold;
  };
  // The newest segment too, once enough of it is dead: sealed for writing (a
  // new segment takes the appends) and then compacted like the others.
  SegmentId active = segments_->active_segment();
  if (segments_->segment_size(active) > 0 && worth(active)) KISEKI_TRY(segments_->roll());
  active = segments_->active_segment();
  // Segments with nothing live first: removing them frees space without a copy
  // (a full disk gets room for the copies of the others).
  std::vector<SegmentId> order = segments_->segments();
  std::stable_partition(order.begin(), order.end(), [&](SegmentId s) { return live_bytes(s) == 0; });
  for (SegmentId seg : order) {
    if (seg == active || !worth(seg)) continue;
    // Copy every record the location table still points at, then point it at the copy.
    std::vector<ScannedRecord> records;
    KISEKI_TRY(segments_->scan(seg, [&](const ScannedRecord& r) { records.push_back(r); }));
    Bytes sealed;
    for (const auto& r : records) {
      Stripe& s = stripe(r.id);
      std::lock_guard lock(s.mu);
      // A chunk with a location change on its way to the store waits for the
      // next compaction: the change would overwrite the move.
      if (s.pending.count(r.id)) continue;
      KISEKI_ASSIGN_OR_RETURN(std::optional<Location> cur, find_locked(s, r.id));
      if (!cur || cur->segment != seg || cur->offset != r.loc.offset) continue;
      KISEKI_TRY(segments_->read(r.id, r.loc, &sealed));
      KISEKI_ASSIGN_OR_RETURN(Location to, segments_->append(r.id, sealed, /*use_reserve=*/true));
      KISEKI_TRY(segments_->sync(to));
      KISEKI_KILL_POINT("compact.after_copy");
      rocksdb::WriteBatch b;
      b.Put(meta_->cf(Cf::kChunkLocs), rocksdb::Slice(r.id.view().data(), r.id.view().size()), encode_location(to));
      KISEKI_TRY(meta_->write(&b, false));
      KISEKI_KILL_POINT("compact.after_location");
      add_live(seg, -static_cast<int64_t>(r.loc.record_size()));
      add_live(to.segment, static_cast<int64_t>(to.record_size()));
      ++stats.chunks_moved;
    }
    if (live_bytes(seg) == 0) {
      KISEKI_TRY(meta_->sync_wal());  // the moved locations must outlive the old file
      KISEKI_KILL_POINT("compact.before_remove");
      KISEKI_TRY(segments_->remove(seg));
      KISEKI_KILL_POINT("compact.after_remove");
      ++stats.segments_removed;
    }
  }
  return stats;
}

ScrubReport ChunkStore::scrub(const DomainKeysFn& keys) {
  ScrubReport report = segments_->scrub();
  if (Status st = flush_local(); !st.is_ok()) report.problems.push_back("pending chunk locations: " + st.to_string());
  auto it = meta_->iterator(Cf::kChunkLocs);
  Bytes plain;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ChunkId id;
    Location loc;
    if (!ChunkId::from_view(it->key().ToStringView(), &id) || !decode_location(it->value().ToStringView(), &loc)) {
      report.problems.push_back("malformed chunk location entry");
      continue;
    }
    if (locate(id).code() == ErrorCode::kNotFound) continue;  // collected, not yet written
    DomainId domain = domain_of(chunk_of(id));
    auto dk = keys(domain);
    if (is_fragment_id(id) || dk.code() == ErrorCode::kCryptoShredded) {
      // A fragment opens only with the others; a shredded tenant's chunk with
      // no key at all: the record's CRC and id are still checked.
      Bytes sealed;
      Status st = read_sealed(id, &sealed);
      if (!st.is_ok()) {
        report.problems.push_back((is_fragment_id(id) ? "fragment " : "chunk ") + id.hex() + ": " + st.to_string());
        report.damaged.push_back(id);
      }
      continue;
    }
    Status st = dk ? read(*dk, id, &plain) : dk.status();
    if (!st.is_ok()) {
      report.problems.push_back("chunk " + id.hex() + ": " + st.to_string());
      if (st.code() == ErrorCode::kCorruption) report.damaged.push_back(id);
    }
  }
  std::vector<const meta::Store*> all{meta_};
  all.insert(all.end(), more_refs_.begin(), more_refs_.end());
  // A node of a cluster holds only what placement gives it (the cluster's
  // repair checks the rest).
  for (const meta::Store* store : partial_ ? std::vector<const meta::Store*>{} : all) {
    auto refs = store->iterator(Cf::kChunkRefs);
    for (refs->SeekToFirst(); refs->Valid(); refs->Next()) {
      if (is_ledger_key(refs->key().ToStringView())) continue;
      ChunkId id;
      if (!ChunkId::from_view(refs->key().ToStringView(), &id)) {
        report.problems.push_back("malformed chunk reference entry");
        continue;
      }
      if (locate(id).code() == ErrorCode::kNotFound)
        report.problems.push_back("chunk " + id.hex() + " is referenced but has no bytes on this node");
    }
  }
  // A scrub that finds nothing wrong ends the damage reported at open (the
  // chunks were restored, or the objects that needed them deleted).
  if (report.problems.empty() && !lost_at_open().empty()) {
    rocksdb::WriteBatch b;
    b.Delete(meta_->cf(Cf::kDefault), rocksdb::Slice(kDamageKey.data(), kDamageKey.size()));
    if (meta_->write(&b, true).is_ok()) {
      std::lock_guard lock(live_mu_);
      lost_at_open_.clear();
    }
  }
  return report;
}

}  // namespace kiseki::chunk
