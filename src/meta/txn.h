// The view an apply function has of the store: reads see the batch being built
// (read-your-writes) on top of the committed database; writes go to the batch.
// Every read error other than "absent" comes back as an error, never as absent:
// apply is fail-stop (log/delta_log.h).
#pragma once

#include <rocksdb/utilities/write_batch_with_index.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "meta/store.h"

namespace kiseki::meta {

class Txn {
 public:
  Txn(Store* store, rocksdb::WriteBatchWithIndex* batch) : store_(store), batch_(batch) {}

  // kNotFound if absent.
  Status get(Cf c, std::string_view key, std::string* value) const {
    store_->count_reads(c, true, 1);
    auto s = batch_->GetFromBatchAndDB(store_->db(), rocksdb::ReadOptions(), store_->cf(c),
                                       rocksdb::Slice(key.data(), key.size()), value);
    if (s.IsNotFound()) return not_found("");
    return from_rocks(s, "txn get");
  }
  Result<bool> exists(Cf c, std::string_view key) const {
    std::string v;
    Status st = get(c, key, &v);
    if (st.code() == ErrorCode::kNotFound) return false;
    KISEKI_TRY(st);
    return true;
  }
  void put(Cf c, std::string_view key, std::string_view value) {
    batch_->Put(store_->cf(c), rocksdb::Slice(key.data(), key.size()),
                rocksdb::Slice(value.data(), value.size()));
  }
  void del(Cf c, std::string_view key) {
    batch_->Delete(store_->cf(c), rocksdb::Slice(key.data(), key.size()));
  }
  // An iterator over the batch merged with the database.
  std::unique_ptr<rocksdb::Iterator> iterator(Cf c) const {
    return std::unique_ptr<rocksdb::Iterator>(batch_->NewIteratorWithBase(
        store_->cf(c), store_->db()->NewIterator(rocksdb::ReadOptions(), store_->cf(c))));
  }
  // Allocates the next value of a u64 counter in the system column family.
  Result<uint64_t> next_counter(std::string_view name, uint64_t first = 1) {
    std::string v;
    uint64_t next = first;
    Status st = get(Cf::kSystem, name, &v);
    if (st.is_ok()) {
      if (v.size() != 8) return corruption("counter " + std::string(name));
      next = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
    } else if (st.code() != ErrorCode::kNotFound) {
      return st;
    }
    put(Cf::kSystem, name, key_u64(next + 1));
    return next;
  }
  // Nested undo points: a refused record's writes are rolled back while the
  // rest of the batch stays.
  void set_savepoint() { batch_->SetSavePoint(); }
  void rollback_to_savepoint() { (void)batch_->RollbackToSavePoint(); }
  void pop_savepoint() { (void)batch_->PopSavePoint(); }

 private:
  Store* store_;
  rocksdb::WriteBatchWithIndex* batch_;
};

}  // namespace kiseki::meta
