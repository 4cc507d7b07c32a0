// The view an apply function has of the store: reads see the batch being built
// (read-your-writes) on top of the committed database; writes go to the batch.
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
    auto s = batch_->GetFromBatchAndDB(store_->db(), rocksdb::ReadOptions(), store_->cf(c),
                                       rocksdb::Slice(key.data(), key.size()), value);
    if (s.IsNotFound()) return not_found("");
    return from_rocks(s, "txn get");
  }
  bool exists(Cf c, std::string_view key) const {
    std::string v;
    return get(c, key, &v).is_ok();
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
  uint64_t next_counter(std::string_view name, uint64_t first = 1) {
    std::string v;
    uint64_t next = first;
    if (get(Cf::kSystem, name, &v).is_ok() && v.size() == 8)
      next = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
    put(Cf::kSystem, name, key_u64(next + 1));
    return next;
  }

 private:
  Store* store_;
  rocksdb::WriteBatchWithIndex* batch_;
};

}  // namespace kiseki::meta
