// The metadata store's batched point reads: both of multi_get's ways (RocksDB
// MultiGet for a few keys, one iterator in key order for many) give each key's
// latest value, or kNotFound, wherever it lives (memtable, SST files, both).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "meta/schema.h"
#include "meta/store.h"
#include "support/temp_dir.h"

namespace kiseki::meta {
namespace {

class MultiGet : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path());
    ASSERT_TRUE(s.is_ok());
    store_ = std::move(*s);
  }
  void put(uint64_t ino, const std::string& v) {
    rocksdb::WriteBatch b;
    b.Put(store_->cf(Cf::kInodes), inode_key(1, ino), v);
    model_[ino] = v;
    ASSERT_TRUE(store_->write(&b, false).is_ok());
  }
  void del(uint64_t ino) {
    rocksdb::WriteBatch b;
    b.Delete(store_->cf(Cf::kInodes), inode_key(1, ino));
    model_.erase(ino);
    ASSERT_TRUE(store_->write(&b, false).is_ok());
  }
  // Reads `inos` in the given order and checks every answer against the model.
  void check(const std::vector<uint64_t>& inos) {
    std::vector<std::string> keys, values;
    for (uint64_t i : inos) keys.push_back(inode_key(1, i));
    std::vector<Status> st;
    store_->multi_get(Cf::kInodes, keys, &values, &st);
    ASSERT_EQ(values.size(), inos.size());
    ASSERT_EQ(st.size(), inos.size());
    for (size_t k = 0; k < inos.size(); ++k) {
      auto m = model_.find(inos[k]);
      if (m == model_.end()) {
        EXPECT_EQ(st[k].code(), ErrorCode::kNotFound) << "ino " << inos[k];
      } else {
        ASSERT_TRUE(st[k].is_ok()) << "ino " << inos[k] << ": " << st[k].to_string();
        EXPECT_EQ(values[k], m->second) << "ino " << inos[k];
      }
    }
  }
  kiseki::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::map<uint64_t, std::string> model_;
};

TEST_F(MultiGet, FewAndManyKeysInEveryOrderAcrossMemtableAndFiles) {
  std::mt19937_64 rng(7);
  // Runs of neighbours, gaps wider than the iterator's steps, deleted keys.
  for (uint64_t i = 100; i < 400; ++i) put(i, "a" + std::to_string(i));
  for (uint64_t i = 1000; i < 5000; i += 37) put(i, "b" + std::to_string(i));
  ASSERT_TRUE(store_->flush().is_ok());
  for (uint64_t i = 150; i < 250; i += 3) del(i);                   // tombstones over files
  for (uint64_t i = 300; i < 350; ++i) put(i, "c" + std::to_string(i));  // newer values in the memtable
  for (uint64_t i = 5000; i < 5100; ++i) put(i, "d" + std::to_string(i));
  put(2, "e");
  // A key in another namespace's range is not read as this one's.
  {
    rocksdb::WriteBatch b;
    b.Put(store_->cf(Cf::kInodes), inode_key(2, 101), "other namespace");
    ASSERT_TRUE(store_->write(&b, false).is_ok());
  }
  std::vector<uint64_t> all;
  for (uint64_t i = 0; i < 5200; ++i) all.push_back(i);
  check(all);  // in order, absent ones included
  for (size_t n : {1, 2, 15, 16, 17, 64, 500}) {
    for (int round = 0; round < 5; ++round) {
      std::vector<uint64_t> pick;
      for (size_t k = 0; k < n; ++k) pick.push_back(rng() % 5300);
      if (round == 1) std::sort(pick.begin(), pick.end());
      if (round == 2) pick.push_back(pick.front());  // a key asked twice
      check(pick);
    }
  }
  ASSERT_TRUE(store_->flush().is_ok());
  check(all);
  std::vector<uint64_t> tail = {5099, 5098, 5097, 6000, 7000, 8000, 9000, 10000,
                                11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000};
  check(tail);  // keys past the last one stored
}

// Wide runs of deleted keys between the keys asked for (a deleted tree not yet
// compacted): the iterator gives up on a long skip and the lookup answers.
TEST_F(MultiGet, LongRunsOfTombstones) {
  for (uint64_t i = 0; i < 20000; ++i) put(i, "v" + std::to_string(i));
  ASSERT_TRUE(store_->flush().is_ok());
  for (uint64_t i = 0; i < 20000; ++i)
    if (i % 5000 != 0 && i % 5000 != 4999) del(i);  // in the memtable, over the files
  std::vector<uint64_t> all;
  for (uint64_t i = 0; i < 20000; i += 1000) all.push_back(i);  // mostly deleted ones
  for (uint64_t i = 0; i < 20000; i += 4999) all.push_back(i);
  check(all);
  ASSERT_TRUE(store_->flush().is_ok());  // tombstones in a file too
  check(all);
  std::vector<uint64_t> live = {0, 4999, 5000, 9999, 10000, 14999, 15000, 19999,
                                1, 2, 3, 4, 5, 6, 7, 8};
  check(live);
}

}  // namespace
}  // namespace kiseki::meta
