#include "cluster/shard_fsm.h"

#include <rocksdb/utilities/write_batch_with_index.h>

#include <cstring>
#include <filesystem>

#include "cluster/raft_entry.h"
#include "common/bytes.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "meta/schema.h"
#include "meta/txn.h"

namespace kiseki::cluster {

namespace {
constexpr std::string_view kAppliedIndexKey = "applied_index";
// Set while a snapshot's state replaces the store's (install): a store that
// holds it was cut off half way and is installed again at start.
constexpr std::string_view kInstallingKey = "snapshot_installing";
constexpr uint8_t kManifestFormat = 1;
constexpr size_t kInstallBatchBytes = 4 << 20;
using Clock = std::chrono::steady_clock;

ShardFsm* self(raft_fsm* f) { return static_cast<ShardFsm*>(f->data); }
int fsm_apply(raft_fsm* f, const raft_buffer* buf, void** result) { return self(f)->apply(buf, result); }
int fsm_snapshot(raft_fsm* f, raft_buffer* bufs[], unsigned* n) { return self(f)->snapshot(bufs, n); }
int fsm_restore(raft_fsm* f, raft_buffer* buf) { return self(f)->restore(buf); }

uint64_t read_index_key(const meta::Store& store, std::string_view key) {
  std::string v;
  if (store.get(meta::Cf::kSystem, key, &v).is_ok() && v.size() == 8)
    return get_be64(reinterpret_cast<const uint8_t*>(v.data()));
  return 0;
}
}  // namespace

std::string encode_manifest(const SnapshotManifest& m) {
  std::string out;
  Encoder(&out).u8(kManifestFormat).u64(m.shard).u64(m.index).u64(m.origin);
  return out;
}

Result<SnapshotManifest> decode_manifest(std::string_view data) {
  Decoder d(data);
  SnapshotManifest m;
  if (d.u8() != kManifestFormat) return corruption("snapshot manifest: unknown format");
  m.shard = d.u64();
  m.index = d.u64();
  m.origin = d.u64();
  if (!d.ok() || !d.done()) return corruption("snapshot manifest: malformed");
  return m;
}

ShardFsm::ShardFsm(meta::Store* store, log::StateMachine* sm, log::LogOptions log_opts, ShardFsmOptions opts)
    : store_(store), sm_(sm), log_opts_(std::move(log_opts)), opts_(std::move(opts)) {
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = fsm_apply;
  fsm_.snapshot = fsm_snapshot;
  fsm_.restore = fsm_restore;
  applied_ = read_index_key(*store_, kAppliedIndexKey);
  if (read_index_key(*store_, kInstallingKey) != 0) {
    // A snapshot install was cut off: the store is part old state, part new.
    // Nothing in it counts as applied; libraft restores the snapshot at start.
    KLOG_WARN("shard {}: a snapshot install was interrupted; it is installed again", opts_.shard);
    applied_ = 0;
  }
  auto& m = MetricsRegistry::global();
  Labels shard{{"shard", std::to_string(opts_.shard)}};
  records_ = m.counter("kiseki_raft_entries_applied_total", "Raft entries applied to this node's store", shard);
  snapshots_ = m.counter("kiseki_raft_snapshots_total", "Raft snapshots taken by this node", shard);
  installs_ = m.counter("kiseki_raft_snapshot_installs_total", "Snapshots of another node installed here", shard);
  apply_seconds_ = m.histogram("kiseki_raft_apply_seconds", "Latency of applying one Raft entry", shard);
  applied_gauge_ = m.gauge("kiseki_raft_applied_index", "Last Raft index applied to this node's store", shard);
  applied_gauge_->set(static_cast<int64_t>(applied_));
}

uint64_t ShardFsm::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

void ShardFsm::advance(uint64_t last_applied) {
  {
    std::lock_guard lock(mu_);
    if (last_applied <= applied_ || !fault_.is_ok()) return;
  }
  // Entries that change no state (barriers, configuration) were applied too:
  // the store says so, or a snapshot at such an index would name more than
  // the store's checkpoint holds. On the loop thread, as every apply.
  rocksdb::WriteBatch b;
  b.Put(store_->cf(meta::Cf::kSystem), rocksdb::Slice(kAppliedIndexKey.data(), kAppliedIndexKey.size()),
        meta::key_u64(last_applied));
  if (Status st = store_->write(&b, false); !st) {
    fail_stop(last_applied, st);
    return;
  }
  {
    std::lock_guard lock(mu_);
    applied_ = last_applied;
  }
  applied_cv_.notify_all();
}

Status ShardFsm::fault() const {
  std::lock_guard lock(mu_);
  return fault_;
}

Status ShardFsm::wait_applied(uint64_t index, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  if (!applied_cv_.wait_for(lock, timeout, [&] { return applied_ >= index || !fault_.is_ok(); }))
    return make_error(ErrorCode::kTimeout, "this node has not applied index " + std::to_string(index) + " yet");
  return fault_;
}

int ShardFsm::fail_stop(uint64_t index, const Status& st) {
  // This node applies nothing more (the library stalls its last_applied); the
  // others go on without it.
  KLOG_ERROR("shard {}: cannot apply entry {}: {}; this node stops applying", opts_.shard, index, st.to_string());
  std::lock_guard lock(mu_);
  fault_ = st;
  applied_cv_.notify_all();
  return RAFT_IOERR;
}

int ShardFsm::apply(const raft_buffer* buf, void** result) {
  uint64_t index = raft_->last_applied + 1;
  slot_ = Committed{index, Status::ok(), {}};
  *result = &slot_;
  {
    std::lock_guard lock(mu_);
    if (!fault_.is_ok()) return RAFT_IOERR;
    if (index <= applied_) return 0;  // in the store already (Raft replays its log at start)
  }
  Result<std::string_view> entry = decode_raft_entry(std::string_view(static_cast<const char*>(buf->base), buf->len));
  if (!entry) return fail_stop(index, entry.status());
  std::string_view record = *entry;
  auto t0 = Clock::now();
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  meta::Txn txn(store_, &batch);
  if (log_opts_.on_apply) log_opts_.on_apply(record);
  log::ApplyResult r;
  Status st = sm_->apply(record, txn, &r);
  if (st.is_ok()) {
    txn.put(meta::Cf::kSystem, kAppliedIndexKey, meta::key_u64(index));
    if (log_opts_.add_local) log_opts_.add_local(batch.GetWriteBatch(), index);
    // Not synced: the Raft log is the durable record; after a crash the store
    // resumes from the applied index it holds and Raft replays the rest (a
    // snapshot syncs it first, before libraft drops log entries).
    st = store_->write(batch.GetWriteBatch(), false);
    if (log_opts_.local_done) log_opts_.local_done(index, st.is_ok());
  }
  if (!st.is_ok()) return fail_stop(index, st);
  slot_.status = std::move(r.status);
  slot_.out = std::move(r.out);
  {
    std::lock_guard lock(mu_);
    applied_ = index;
  }
  applied_cv_.notify_all();
  records_->inc();
  applied_gauge_->set(static_cast<int64_t>(index));
  apply_seconds_->observe(std::chrono::duration<double>(Clock::now() - t0).count());
  return 0;
}

int ShardFsm::snapshot(raft_buffer* bufs[], unsigned* n_bufs) {
  // libraft drops the log entries a snapshot covers: the store must hold them
  // durably first. The state itself is copied (a RocksDB checkpoint) only when
  // a node needs it (snapshot_transfer.h), so no old copy of it lingers on disk
  // (a crypto-shred erases the store's history, and would miss a copy).
  uint64_t index = applied();
  if (Status st = store_->sync_wal(); !st) {
    KLOG_ERROR("shard {}: snapshot at {}: {}", opts_.shard, index, st.to_string());
    return RAFT_IOERR;
  }
  std::string m = encode_manifest({opts_.shard, index, opts_.node_id});
  *bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  if (!*bufs) return RAFT_NOMEM;
  (*bufs)[0].len = m.size();
  (*bufs)[0].base = raft_malloc(m.size());
  if (!(*bufs)[0].base) {
    raft_free(*bufs);
    return RAFT_NOMEM;
  }
  std::memcpy((*bufs)[0].base, m.data(), m.size());
  *n_bufs = 1;
  snapshots_->inc();
  KLOG_INFO("shard {}: snapshot at index {}", opts_.shard, index);
  return 0;
}

int ShardFsm::restore(raft_buffer* buf) {
  auto m = decode_manifest(std::string_view(static_cast<const char*>(buf->base), buf->len));
  if (!m) {
    KLOG_ERROR("shard {}: snapshot: {}", opts_.shard, m.status().to_string());
    return RAFT_MALFORMED;
  }
  if (m->index <= applied()) {
    // This node's own snapshot at start, or one it has passed already.
    raft_free(buf->base);
    return 0;
  }
  std::string dest = opts_.dir + "/incoming";
  std::error_code ec;
  std::filesystem::remove_all(dest, ec);
  Status st = make_dirs(opts_.dir);
  if (st.is_ok())
    st = opts_.fetch_checkpoint ? opts_.fetch_checkpoint(m->origin, m->index, dest)
                                : make_error(ErrorCode::kUnavailable, "no fabric to fetch snapshots over");
  if (st.is_ok()) st = install(dest, m->index);
  std::filesystem::remove_all(dest, ec);
  if (!st.is_ok()) {
    KLOG_ERROR("shard {}: snapshot at {} from node {} not installed: {}", opts_.shard, m->index, m->origin,
               st.to_string());
    return RAFT_IOERR;
  }
  raft_free(buf->base);
  return 0;
}

Status ShardFsm::install(const std::string& dir, uint64_t index) {
  meta::StoreOptions so;
  so.create_if_missing = false;
  so.block_cache_bytes = 8 << 20;
  KISEKI_ASSIGN_OR_RETURN(auto snap, meta::Store::open(dir, so));
  uint64_t holds = read_index_key(*snap, kAppliedIndexKey);
  if (holds < index)
    return corruption("the checkpoint holds entries through " + std::to_string(holds) + ", not " +
                      std::to_string(index));
  {
    rocksdb::WriteBatch mark;
    mark.Put(store_->cf(meta::Cf::kSystem), rocksdb::Slice(kInstallingKey.data(), kInstallingKey.size()),
             meta::key_u64(holds));
    KISEKI_TRY(store_->write(&mark, true));
  }
  // Every replicated family: what is here goes, what the checkpoint holds
  // comes, in batches (the state may be far larger than memory).
  for (size_t c = 0; c < static_cast<size_t>(meta::Cf::kCount); ++c) {
    auto cf = static_cast<meta::Cf>(c);
    if (!meta::is_replicated(cf)) continue;
    rocksdb::WriteBatch b;
    auto flush = [&](bool force) -> Status {
      if (!force && b.GetDataSize() < kInstallBatchBytes) return Status::ok();
      Status st = store_->write(&b, false);
      b.Clear();
      return st;
    };
    auto old = store_->iterator(cf);
    for (old->SeekToFirst(); old->Valid(); old->Next()) {
      if (cf == meta::Cf::kSystem && old->key() == rocksdb::Slice(kInstallingKey.data(), kInstallingKey.size()))
        continue;
      b.Delete(store_->cf(cf), old->key());
      KISEKI_TRY(flush(false));
    }
    KISEKI_TRY(meta::from_rocks(old->status(), "snapshot install: scan"));
    KISEKI_TRY(flush(true));
    auto in = snap->iterator(cf);
    for (in->SeekToFirst(); in->Valid(); in->Next()) {
      b.Put(store_->cf(cf), in->key(), in->value());
      KISEKI_TRY(flush(false));
    }
    KISEKI_TRY(meta::from_rocks(in->status(), "snapshot install: read"));
    KISEKI_TRY(flush(true));
  }
  rocksdb::WriteBatch done;
  done.Delete(store_->cf(meta::Cf::kSystem), rocksdb::Slice(kInstallingKey.data(), kInstallingKey.size()));
  done.Put(store_->cf(meta::Cf::kSystem), rocksdb::Slice(kAppliedIndexKey.data(), kAppliedIndexKey.size()),
           meta::key_u64(holds));
  KISEKI_TRY(store_->write(&done, true));
  {
    std::lock_guard lock(mu_);
    applied_ = holds;
  }
  applied_cv_.notify_all();
  applied_gauge_->set(static_cast<int64_t>(holds));
  installs_->inc();
  KLOG_INFO("shard {}: installed a snapshot holding entries through {}", opts_.shard, holds);
  if (log_opts_.on_reset) log_opts_.on_reset();
  return Status::ok();
}

}  // namespace kiseki::cluster
