// Store::last_writes: the batch it makes from a Txn's index, each key written
// once, leaves the store as the whole batch would, across column families,
// overwrites, deletes and rolled-back savepoints.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "meta/schema.h"
#include "meta/store.h"
#include "meta/txn.h"
#include "support/temp_dir.h"

namespace kiseki::meta {
namespace {

using Contents = std::map<std::pair<int, std::string>, std::string>;

Contents contents(Store& s) {
  Contents out;
  for (size_t c = 0; c < static_cast<size_t>(Cf::kCount); ++c) {
    auto it = s.iterator(static_cast<Cf>(c));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out[{static_cast<int>(c), it->key().ToString()}] = it->value().ToString();
    EXPECT_TRUE(it->status().ok());
  }
  return out;
}

std::unique_ptr<Store> open_store(const std::string& dir) {
  auto s = Store::open(dir);
  EXPECT_TRUE(s.is_ok());
  return s ? std::move(*s) : nullptr;
}

TEST(LastWrites, LeaveTheStoreAsTheWholeBatchWould) {
  kiseki::testing::TempDir da, db;
  auto a = open_store(da.path() + "/a"), b = open_store(db.path() + "/b");
  ASSERT_TRUE(a && b);
  const Cf cfs[] = {Cf::kDefault, Cf::kSystem, Cf::kInodes, Cf::kDentries, Cf::kChunkRefs, Cf::kChunkLocs};
  std::mt19937_64 rng(11);
  auto key = [&] { return "k" + std::to_string(rng() % 12); };
  size_t shrunk = 0;
  for (int round = 0; round < 300; ++round) {
    rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
    Txn txn(a.get(), &batch);
    std::set<std::pair<int, std::string>> kept;  // keys written and not rolled back
    std::vector<std::set<std::pair<int, std::string>>> saved;
    int ops = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < ops; ++i) {
      Cf c = cfs[rng() % std::size(cfs)];
      std::string k = key();
      switch (rng() % 8) {
        case 0:
          txn.del(c, k);
          kept.insert({static_cast<int>(c), k});
          break;
        case 1:
          txn.set_savepoint();
          saved.push_back(kept);
          break;
        case 2:
          if (!saved.empty()) {
            if (rng() % 2) {
              txn.rollback_to_savepoint();
              kept = saved.back();
            } else {
              txn.pop_savepoint();
            }
            saved.pop_back();
          }
          break;
        default:
          txn.put(c, k, "v" + std::to_string(round) + "." + std::to_string(i));
          kept.insert({static_cast<int>(c), k});
      }
    }
    rocksdb::WriteBatch last;
    ASSERT_TRUE(a->last_writes(batch, &last));
    EXPECT_EQ(last.Count(), kept.size()) << "round " << round;
    EXPECT_LE(last.Count(), batch.GetWriteBatch()->Count());
    if (last.Count() < batch.GetWriteBatch()->Count()) ++shrunk;
    ASSERT_TRUE(a->write(batch.GetWriteBatch(), false).is_ok());
    ASSERT_TRUE(b->write(&last, false).is_ok());
    if (round % 50 == 49) {  // the files as well as the memtable
      ASSERT_TRUE(b->flush().is_ok());
    }
    ASSERT_EQ(contents(*a), contents(*b)) << "round " << round;
  }
  EXPECT_GT(shrunk, 100u);  // most rounds wrote some key twice
}

TEST(LastWrites, ASingleDeleteLeavesItToTheWholeBatch) {
  kiseki::testing::TempDir d;
  auto s = open_store(d.path());
  ASSERT_TRUE(s);
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  Txn txn(s.get(), &batch);
  txn.put(Cf::kInodes, "a", "1");
  ASSERT_TRUE(batch.SingleDelete(s->cf(Cf::kSystem), "b").ok());
  rocksdb::WriteBatch last;
  EXPECT_FALSE(s->last_writes(batch, &last));
  EXPECT_EQ(last.Count(), 0u);
}

}  // namespace
}  // namespace kiseki::meta
