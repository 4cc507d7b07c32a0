// The metadata store: one RocksDB instance with the column families of schema.h.
// It is the single source of truth on a node; everything else is derived.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "meta/schema.h"

namespace kiseki::meta {

struct StoreOptions {
  size_t block_cache_bytes = 256ull << 20;
  bool create_if_missing = true;
  // RocksDB's files go through this Env's checks (meta/env_fs.h).
  const Env* env = &Env::posix();
  // Run on RocksDB's flush thread before a memtable becomes an SST file (whose
  // records then no longer wait for a WAL sync to be durable): write order for
  // what the records reference outside the store.
  std::function<void()> before_flush;
};

Status from_rocks(const rocksdb::Status& s, std::string_view what);

class Store {
 public:
  static Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& opts = {});
  ~Store();

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles_[static_cast<size_t>(c)]; }

  // kNotFound if absent.
  Status get(Cf c, std::string_view key, std::string* value) const;
  // Point reads of many keys in one call, from one snapshot. (*statuses)[i] is
  // kNotFound for an absent key.
  void multi_get(Cf c, const std::vector<std::string>& keys, std::vector<std::string>* values,
                 std::vector<Status>* statuses) const;
  // The same, handing each key's answer to `fn(i, status, value)` (value empty
  // unless found, valid only during the call): no copy of the values.
  using ReadFn = std::function<void(size_t i, const Status& st, std::string_view value)>;
  void multi_get(Cf c, const std::vector<std::string>& keys, const ReadFn& fn) const;
  std::unique_ptr<rocksdb::Iterator> iterator(Cf c) const;
  // Counts point reads in kiseki_meta_reads_total{cf, by}: `by` "request" for
  // get and multi_get, "apply" for a Txn's reads (which call this).
  void count_reads(Cf c, bool by_apply, uint64_t keys) const;
  // Writes a batch; `sync` makes it durable (fsync of the WAL) before returning.
  Status write(rocksdb::WriteBatch* batch, bool sync);
  // Appends to `out` the last write of each key in `batch`, an index that
  // overwrites keys (a Txn's) and holds every write of its batch: what the
  // batch leaves in the store, each key written once. A log group's records
  // write the same counters and parent directory again and again, and the
  // memtable need take each key once. False, with `out` cleared, where the
  // index cannot stand for the batch (a merge or single delete in it).
  bool last_writes(rocksdb::WriteBatchWithIndex& batch, rocksdb::WriteBatch* out) const;
  // A count of the batches written to any store of this process, raised after
  // each write is visible (and when a store opens). What was read from a store
  // after generation() returned g is still what the store holds while
  // generation() is g: the caches of read state (gateway/object_cache.h) check it.
  static uint64_t generation() { return generation_.load(std::memory_order_acquire); }
  // Makes everything written so far durable (durability mode `group`).
  Status sync_wal();
  // Writes the memtables to SST files (tests that want reads to hit the files).
  Status flush();
  // A consistent copy of the whole store in `dir` (a RocksDB checkpoint: hard
  // links to the SST files where the file system allows, copies otherwise).
  Status checkpoint(const std::string& dir);
  // Reads every SST file of every column family and checks its block checksums.
  Status verify_checksums();
  // Rewrites the files that may hold old versions of the keys under each
  // (column family, prefix) pair (an empty prefix: the whole family), so that
  // deleted and overwritten values are gone from the files: the memtables are
  // flushed (the write-ahead log files that held them are deleted) and the
  // ranges compacted down to the last level. For crypto-shred: the wrapped key
  // and the names of a shredded tenant leave no copy behind.
  Status erase_history(const std::vector<std::pair<Cf, std::string>>& ranges);
  // Every key and value of the replicated column families (schema.h), in a
  // canonical text form: two replicas that applied the same records dump the
  // same bytes.
  std::string dump_replicated() const;

 private:
  Store() = default;
  static inline std::atomic<uint64_t> generation_{0};
  Status check_format(bool fresh);
  static constexpr size_t kScanGetMin = 16;  // multi_get of this many keys or more walks an iterator
  void scan_get(Cf c, const std::vector<std::string>& keys, const ReadFn& fn) const;
  std::unique_ptr<rocksdb::Env> env_;  // declared before db_: outlives it
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<uint64_t> erase_count_{0};
};

}  // namespace kiseki::meta
