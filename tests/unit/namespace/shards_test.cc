// Metadata shards (ADR 0009) as the state machine sees them: a namespace's
// catalog entry in the root shard, its root directory in shard id mod N.
#include <gtest/gtest.h>

#include <rocksdb/utilities/write_batch_with_index.h>

#include "meta/schema.h"
#include "meta/txn.h"
#include "namespace/delta.h"
#include "namespace/inode.h"
#include "namespace/state_machine.h"
#include "support/temp_dir.h"

namespace kiseki::ns {
namespace {

class Shards : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t k = 0; k < 2; ++k) {
      dirs_.push_back(std::make_unique<kiseki::testing::TempDir>());
      auto s = meta::Store::open(dirs_.back()->path());
      ASSERT_TRUE(s.is_ok());
      stores_.push_back(std::move(*s));
      sms_.push_back(std::make_unique<StateMachine>(k, 2));
    }
  }
  log::ApplyResult apply(uint32_t shard, const Delta& d) {
    rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, true);
    meta::Txn txn(stores_[shard].get(), &batch);
    log::ApplyResult r;
    EXPECT_TRUE(sms_[shard]->apply(encode_record({d}, RequestId{1, ++seq_}), txn, &r).is_ok());
    EXPECT_TRUE(stores_[shard]->write(batch.GetWriteBatch(), false).is_ok());
    return r;
  }
  bool has_root(uint32_t shard, NamespaceId ns) {
    std::string v;
    return stores_[shard]->get(meta::Cf::kInodes, meta::inode_key(ns, kRootInode), &v).is_ok();
  }
  std::vector<std::unique_ptr<kiseki::testing::TempDir>> dirs_;
  std::vector<std::unique_ptr<meta::Store>> stores_;
  std::vector<std::unique_ptr<StateMachine>> sms_;
  uint64_t seq_ = 0;
};

TEST_F(Shards, ARootDirectoryLivesInItsNamespacesShard) {
  Delta t;
  t.op = Op::kCreateTenant;
  t.name = "acme";
  t.blob = "t";
  TenantId tenant = get_be64(reinterpret_cast<const uint8_t*>(apply(0, t).out.data()));
  std::vector<NamespaceId> ids;
  for (int i = 0; i < 4; ++i) {
    Delta n;
    n.op = Op::kCreateNamespace;
    n.a = tenant;
    n.name = "bucket-" + std::to_string(i);
    auto r = apply(0, n);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ids.push_back(get_be64(reinterpret_cast<const uint8_t*>(r.out.data())));
  }
  for (NamespaceId id : ids) {
    // The root shard made the root only for its own namespaces.
    EXPECT_EQ(has_root(0, id), shard_of(id, 2) == 0) << id;
    if (shard_of(id, 2) != 1) continue;
    Delta root;
    root.op = Op::kCreateRoot;
    root.ns = id;
    ASSERT_TRUE(apply(1, root).status.is_ok());
    ASSERT_TRUE(apply(1, root).status.is_ok());  // again: nothing changes
    EXPECT_TRUE(has_root(1, id));
    // The wrong shard refuses it.
    EXPECT_EQ(apply(0, root).status.code(), ErrorCode::kInvalidArgument);
    // A root with an entry in it stays; an empty one goes.
    Delta file;
    file.op = Op::kCreate;
    file.ns = id;
    file.parent = kRootInode;
    file.name = "f";
    file.inode.type = FileType::kFile;
    ASSERT_TRUE(apply(1, file).status.is_ok());
    Delta drop;
    drop.op = Op::kDropRoot;
    drop.ns = id;
    EXPECT_EQ(apply(1, drop).status.code(), ErrorCode::kNotEmpty);
    EXPECT_TRUE(has_root(1, id));
  }
  // The root shard deletes the catalog entry of a data shard's namespace
  // without looking for its files (they are in the other store).
  NamespaceId other = ids[0];
  for (NamespaceId id : ids)
    if (shard_of(id, 2) == 1) other = id;
  ASSERT_EQ(shard_of(other, 2), 1u);
  Delta del;
  del.op = Op::kDeleteNamespace;
  del.a = tenant;
  for (int i = 0; i < 4; ++i)
    if (ids[i] == other) del.name = "bucket-" + std::to_string(i);
  EXPECT_TRUE(apply(0, del).status.is_ok());
}

}  // namespace
}  // namespace kiseki::ns
