#include "meta/store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <filesystem>

#include "common/file_util.h"
#include "common/metrics.h"
#include "meta/env_fs.h"

namespace kiseki::meta {

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return not_found(msg);
  if (s.IsCorruption()) return corruption(msg);
  if (s.IsNoSpace()) return make_error(ErrorCode::kNoSpace, msg);
  if (s.IsBusy() || s.IsTryAgain()) return make_error(ErrorCode::kConflict, msg);
  if (s.IsTimedOut()) return make_error(ErrorCode::kTimeout, msg);
  if (s.IsInvalidArgument()) return invalid_argument(msg);
  return io_error(msg);
}

namespace {
class FlushHook final : public rocksdb::EventListener {
 public:
  explicit FlushHook(std::function<void()> fn) : fn_(std::move(fn)) {}
  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { fn_(); }

 private:
  std::function<void()> fn_;
};
}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path, const StoreOptions& opts) {
  KISEKI_TRY(make_dirs(path));
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = opts.create_if_missing;
  dbo.create_missing_column_families = true;
  dbo.max_background_jobs = 2;
  dbo.bytes_per_sync = 1 << 20;
  dbo.enable_pipelined_write = false;
  dbo.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  dbo.keep_log_file_num = 2;
  // A new MANIFEST (a snapshot of the live files only) at every version edit:
  // the boundary keys of deleted SST files, which hold names, do not outlive
  // them (erase_history). Edits come per flush and compaction, not per write.
  dbo.max_manifest_file_size = 0;
  // A damaged record in the middle of the write-ahead log refuses the open:
  // RocksDB's default (point in time) replays up to the damage and drops every
  // acknowledged write after it in silence. An incomplete last record, what a
  // crash in the middle of a write leaves, is still tolerated.
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (opts.before_flush) dbo.listeners.push_back(std::make_shared<FlushHook>(opts.before_flush));

  // Debian's RocksDB computes CRC32C in software: xxh3 block checksums are far
  // cheaper. Bloom filters make point lookups (dedup probes, dentries) one read.
  auto cache = rocksdb::NewLRUCache(opts.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions cfo;
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cfo.compression = rocksdb::kNoCompression;
  cfo.write_buffer_size = 32 << 20;
  // A bloom filter over the memtable's keys: most point reads on the write path
  // look for keys that are absent (a new chunk's dedup probe, a request id seen
  // for the first time), and the filter answers them without a skiplist walk.
  cfo.memtable_whole_key_filtering = true;
  cfo.memtable_prefix_bloom_size_ratio = 0.02;

  std::unique_ptr<Store> store(new Store());
  if (opts.env != &Env::posix()) {
    store->env_ = rocksdb::NewCompositeEnv(make_env_file_system(*opts.env));
    dbo.env = store->env_.get();
  }
  // A directory written by an older format has column families this one does
  // not know: refuse it with a clear message instead of RocksDB's.
  std::vector<std::string> existing;
  bool fresh = !rocksdb::DB::ListColumnFamilies(dbo, path, &existing).ok();
  for (const auto& name : existing)
    if (std::find(kCfNames.begin(), kCfNames.end(), name) == kCfNames.end())
      return make_error(ErrorCode::kNotSupported,
                        "metadata store " + path + " was written by an older Kiseki (column family '" + name +
                            "'); this version reads format " + std::to_string(kFormatVersion) +
                            " only: see docs/formats.md");
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (auto name : kCfNames) cfs.emplace_back(std::string(name), cfo);
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, path, cfs, &store->handles_, &raw);
  if (s.IsCorruption()) {
    std::string logs;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.path().extension() == ".log") logs += (logs.empty() ? "" : ", ") + e.path().filename().string();
    return corruption("the metadata store " + path + " is damaged (" + s.ToString() +
                      "): a record in its write-ahead log (" + (logs.empty() ? "none left" : logs) +
                      ") or one of its files fails its checksum. "
                      "Kiseki does not start on it, so that no acknowledged write after the damage is dropped "
                      "in silence; restore a backup (docs/operations.md#damage)");
  }
  if (!s.ok()) return from_rocks(s, "open metadata store " + path);
  store->db_.reset(raw);
  generation_.fetch_add(1, std::memory_order_release);
  KISEKI_TRY(store->check_format(fresh));
  return store;
}

Status Store::check_format(bool fresh) {
  std::string v;
  Status st = get(Cf::kSystem, kFormatKey, &v);
  if (st.code() == ErrorCode::kNotFound) {
    auto it = iterator(Cf::kTenants);
    it->SeekToFirst();
    if (!fresh && it->Valid())
      return make_error(ErrorCode::kNotSupported, "metadata store has no format version: written by an older Kiseki; "
                                                  "see docs/formats.md");
    rocksdb::WriteBatch b;
    b.Put(cf(Cf::kSystem), rocksdb::Slice(kFormatKey.data(), kFormatKey.size()), key_u64(kFormatVersion));
    return write(&b, true);
  }
  KISEKI_TRY(st);
  uint64_t have = v.size() == 8 ? get_be64(reinterpret_cast<const uint8_t*>(v.data())) : 0;
  if (have != kFormatVersion)
    return make_error(ErrorCode::kNotSupported, "metadata store has format " + std::to_string(have) +
                                                    "; this version reads format " + std::to_string(kFormatVersion));
  return Status::ok();
}

Status Store::flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return from_rocks(db_->Flush(fo, handles_), "flush");
}

Status Store::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* cp = nullptr;
  KISEKI_TRY(from_rocks(rocksdb::Checkpoint::Create(db_.get(), &cp), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> owned(cp);
  return from_rocks(cp->CreateCheckpoint(dir), "checkpoint into " + dir);
}

Status Store::verify_checksums() {
  return from_rocks(db_->VerifyChecksum(), "metadata checksums");
}

// The smallest key above every key that starts with `prefix` (empty: none).
static std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

Status Store::erase_history(const std::vector<std::pair<Cf, std::string>>& ranges) {
  KISEKI_TRY(flush());
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (const auto& [c, prefix] : ranges) {
    std::string end = prefix_end(prefix);
    rocksdb::Slice b(prefix), e(end);
    auto s = db_->CompactRange(co, cf(c), prefix.empty() ? nullptr : &b, end.empty() ? nullptr : &e);
    KISEKI_TRY(from_rocks(s, std::string("compact ") + std::string(kCfNames[static_cast<size_t>(c)])));
  }
  // The MANIFEST written at the last compaction's edit began with the files
  // before it: one more edit (a flush) starts one that lists only the files now.
  rocksdb::WriteOptions wo;
  wo.sync = true;
  Status mark = from_rocks(db_->Put(wo, cf(Cf::kDefault), "erased_at", std::to_string(++erase_count_)), "erase mark");
  generation_.fetch_add(1, std::memory_order_release);
  KISEKI_TRY(mark);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return from_rocks(db_->Flush(fo, cf(Cf::kDefault)), "flush");
}

std::string Store::dump_replicated() const {
  std::string out;
  for (size_t c = 0; c < handles_.size(); ++c) {
    if (!is_replicated(static_cast<Cf>(c))) continue;
    auto it = iterator(static_cast<Cf>(c));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out.append(kCfNames[c]).append(" ").append(to_hex(as_bytes(it->key().ToStringView())))
          .append(" ").append(to_hex(as_bytes(it->value().ToStringView()))).append("\n");
    if (!it->status().ok()) out.append("ERROR ").append(it->status().ToString()).append("\n");
  }
  return out;
}

Store::~Store() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

namespace {

// kiseki_meta_reads_total's counters, [by apply][column family].
std::array<std::array<Counter*, static_cast<size_t>(Cf::kCount)>, 2> make_read_counters() {
  std::array<std::array<Counter*, static_cast<size_t>(Cf::kCount)>, 2> out{};
  for (size_t by = 0; by < 2; ++by)
    for (size_t c = 0; c < out[by].size(); ++c)
      out[by][c] = MetricsRegistry::global().counter(
          "kiseki_meta_reads_total", "Keys read from the metadata store by point reads",
          {{"cf", std::string(kCfNames[c])}, {"by", by ? "apply" : "request"}});
  return out;
}

}  // namespace

void Store::count_reads(Cf c, bool by_apply, uint64_t keys) const {
  static const auto counters = make_read_counters();
  counters[by_apply ? 1 : 0][static_cast<size_t>(c)]->inc(keys);
}

Status Store::get(Cf c, std::string_view key, std::string* value) const {
  count_reads(c, false, 1);
  auto s = db_->Get(rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return not_found("");
  return from_rocks(s, "get");
}

void Store::multi_get(Cf c, const std::vector<std::string>& keys, std::vector<std::string>* values,
                      std::vector<Status>* statuses) const {
  values->assign(keys.size(), std::string());
  statuses->assign(keys.size(), Status::ok());
  multi_get(c, keys, [&](size_t i, const Status& st, std::string_view v) {
    (*statuses)[i] = st;
    (*values)[i].assign(v);
  });
}

void Store::multi_get(Cf c, const std::vector<std::string>& keys, const ReadFn& fn) const {
  count_reads(c, false, keys.size());
  if (keys.empty()) return;
  if (keys.size() >= kScanGetMin) return scan_get(c, keys, fn);
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> pinned(keys.size());
  std::vector<rocksdb::Status> st(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(c), keys.size(), slices.data(), pinned.data(), st.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (st[i].ok()) fn(i, Status::ok(), pinned[i].ToStringView());
    else fn(i, st[i].IsNotFound() ? not_found("") : from_rocks(st[i], "multi_get"), {});
  }
}

// Many keys, often close together (the inodes of one directory's files were
// mostly made one after another): one iterator walks them in key order, a few
// steps of Next between neighbours and a Seek across a gap. A point lookup
// searches each memtable and level from the top for every key; a step of the
// iterator is a pointer move.
void Store::scan_get(Cf c, const std::vector<std::string>& keys, const ReadFn& fn) const {
  constexpr int kMaxSteps = 4;  // past this many Next calls, Seek
  // A move that skips more deleted or overwritten entries than this gives up
  // (Incomplete) and the key is read by a point lookup instead: tombstones
  // between two keys (a deleted tree not compacted yet) cost no more than they
  // cost MultiGet.
  constexpr uint64_t kMaxSkipped = 64;
  std::vector<uint32_t> order(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  std::string upper = keys[order.back()];
  upper.push_back('\0');  // the smallest key after the largest asked for
  rocksdb::Slice upper_slice(upper);
  rocksdb::ManagedSnapshot snap(db_.get());  // one state for the iterator and the lookups
  rocksdb::ReadOptions point;
  point.snapshot = snap.snapshot();
  rocksdb::ReadOptions ro = point;
  ro.iterate_upper_bound = &upper_slice;
  ro.max_skippable_internal_keys = kMaxSkipped;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(c)));
  bool positioned = false;
  for (uint32_t i : order) {
    rocksdb::Slice want(keys[i]);
    for (int steps = 0; positioned && it->Valid() && it->key().compare(want) < 0 && steps < kMaxSteps; ++steps)
      it->Next();
    // Behind the key (or lost): Seek. Invalid with an OK status is past the
    // last key there is: the key is absent.
    if (!positioned || !it->status().ok() || (it->Valid() && it->key().compare(want) < 0)) {
      it->Seek(want);
      positioned = true;
    }
    if (it->status().IsIncomplete()) {
      rocksdb::PinnableSlice v;
      rocksdb::Status st = db_->Get(point, cf(c), want, &v);
      if (st.ok()) fn(i, Status::ok(), v.ToStringView());
      else fn(i, st.IsNotFound() ? not_found("") : from_rocks(st, "multi_get"), {});
      positioned = false;
      continue;
    }
    if (!it->status().ok()) fn(i, from_rocks(it->status(), "multi_get"), {});
    else if (it->Valid() && it->key() == want) fn(i, Status::ok(), it->value().ToStringView());
    else fn(i, not_found(""), {});
  }
}

std::unique_ptr<rocksdb::Iterator> Store::iterator(Cf c) const {
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), cf(c)));
}

Status Store::write(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  Status st = from_rocks(db_->Write(wo, batch), "write");
  generation_.fetch_add(1, std::memory_order_release);  // a failed write may have applied part of it
  return st;
}

bool Store::last_writes(rocksdb::WriteBatchWithIndex& batch, rocksdb::WriteBatch* out) const {
  for (size_t c = 0; c < static_cast<size_t>(Cf::kCount); ++c) {
    rocksdb::ColumnFamilyHandle* h = cf(static_cast<Cf>(c));
    std::unique_ptr<rocksdb::WBWIIterator> it(batch.NewIterator(h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      rocksdb::WriteEntry e = it->Entry();
      rocksdb::Status s;
      if (e.type == rocksdb::kPutRecord) s = out->Put(h, e.key, e.value);
      else if (e.type == rocksdb::kDeleteRecord) s = out->Delete(h, e.key);
      else s = rocksdb::Status::NotSupported();
      if (!s.ok()) {
        out->Clear();
        return false;
      }
    }
  }
  return true;
}

Status Store::sync_wal() { return from_rocks(db_->SyncWAL(), "sync WAL"); }

}  // namespace kiseki::meta
