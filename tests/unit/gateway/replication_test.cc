// The properties a replicated core needs: the delta stream alone determines the
// replicated state (node-local chunk locations may differ), apply is fail-stop,
// and a mutation with a request id applies once, also across kill -9.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "chunk/chunk_store.h"
#include "crypto/key_manager.h"
#include "crash_writer_child.h"
#include "fixture.h"
#include "log/delta_log.h"
#include "namespace/state_machine.h"
#include "support/fault_env.h"

namespace kiseki::gateway {
namespace {

class ReplicationTest : public GatewayTest {
 protected:
  GatewayOptions options() override {
    GatewayOptions o = GatewayTest::options();
    o.durability = Durability::kNone;
    o.file_chunk_bytes = 16 << 10;
    o.on_apply = [this](std::string_view r) { records_.emplace_back(r); };
    return o;
  }
  // A random mix of object and file operations, some of which fail.
  void random_ops(uint64_t seed, int n);

  std::vector<std::string> records_;
};

void ReplicationTest::random_ops(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  const char* names[] = {"a", "b", "c"};
  auto key = [&] {
    std::string k = names[rng() % 3];
    for (int d = rng() % 3; d > 0; --d) k += std::string("/") + names[rng() % 3];
    return k;
  };
  for (int i = 0; i < n; ++i) {
    std::string data = kiseki::testing::random_bytes(rng() % 3 ? rng() % 3000 : rng() % 70000, rng() % 8);
    InodeId root = ns::kRootInode;
    switch (rng() % 9) {
      case 0: (void)gw_->put_object(ns_, key(), source_from(as_bytes(data)), {}); break;
      case 1: (void)gw_->delete_object(ns_, key()); break;
      case 2: (void)gw_->copy_object(ns_, key(), ns_, key(), std::nullopt); break;
      case 3: (void)gw_->mkdir(ns_, root, names[rng() % 3], 0755, {}); break;
      case 4: (void)gw_->create(ns_, root, names[rng() % 3], 0644, {}, true); break;
      case 5: {
        auto f = gw_->lookup(ns_, root, names[rng() % 3]);
        if (f && f->type == FileType::kFile) (void)gw_->write(ns_, f->ino, rng() % 50000, as_bytes(data));
        break;
      }
      case 6: (void)gw_->rename(ns_, root, names[rng() % 3], root, names[rng() % 3]); break;
      case 7: (void)gw_->unlink(ns_, root, names[rng() % 3]); break;
      case 8: {
        auto up = gw_->create_upload(ns_, key(), {});
        if (!up) break;
        auto p = gw_->upload_part(ns_, *up, 1, source_from(as_bytes(data)));
        if (p && rng() % 2) (void)gw_->complete_upload(ns_, *up, {{1, p->etag}});
        else (void)gw_->abort_upload(ns_, *up);
        break;
      }
    }
  }
}

TEST_F(ReplicationTest, TheRecordStreamDeterminesTheReplicatedState) {
  random_ops(11, 400);
  ASSERT_GT(records_.size(), 300u);

  // Replica B: a fresh store that applies the same records with the same code.
  kiseki::testing::TempDir b;
  auto store = *meta::Store::open(b.path() + "/meta");
  ns::StateMachine sm;
  {
    log::DeltaLog log(store.get(), &sm, log::LogOptions{Durability::kNone});
    size_t refused = 0;
    for (const auto& r : records_) refused += !log.submit(r).is_ok();
    EXPECT_GT(refused, 10u) << "the stream should hold records that apply refuses";
  }
  std::string a_dump = gw_->store_for_test()->dump_replicated();
  std::string b_dump = store->dump_replicated();
  ASSERT_GT(a_dump.size(), 1000u);
  EXPECT_TRUE(a_dump == b_dump) << "the replicated state differs between the two stores";

  // B's chunk store gets the chunks in the opposite order: other locations,
  // same contents, and nothing of that shows in the replicated state.
  std::filesystem::copy(dir_.path() + "/keys", b.path() + "/keys");  // the cluster's master key
  auto keys = *crypto::FileKeyManager::open(b.path() + "/keys");
  auto segs = *chunk::SegmentStore::open(b.path() + "/chunks", {});
  auto chunks = *chunk::ChunkStore::open(store.get(), segs.get(), keys.get());
  std::vector<ChunkId> ids;
  ASSERT_TRUE(gw_->chunks_for_test()->flush_local().is_ok());
  auto it = gw_->store_for_test()->iterator(meta::Cf::kChunkLocs);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ChunkId::from_view(it->key().ToStringView(), &ids.emplace_back());
  ASSERT_GT(ids.size(), 10u);
  Bytes sealed, pa, pb;
  for (auto i = ids.rbegin(); i != ids.rend(); ++i) {
    ASSERT_TRUE(gw_->chunks_for_test()->read_sealed(*i, &sealed).is_ok());
    ASSERT_TRUE(chunks->adopt(*i, sealed).is_ok());
  }
  size_t moved = 0;
  for (const auto& id : ids) {
    moved += gw_->chunks_for_test()->locate(id)->offset != chunks->locate(id)->offset;
    auto dom = gw_->keys_of_domain(domain_of(id));
    ASSERT_TRUE(dom.is_ok());
    ASSERT_TRUE(gw_->chunks_for_test()->read(*dom, id, &pa).is_ok());
    ASSERT_TRUE(chunks->read(*dom, id, &pb).is_ok());
    ASSERT_EQ(pa, pb);
  }
  EXPECT_GT(moved, ids.size() / 2) << "the two chunk stores should hold the chunks at different places";
  EXPECT_TRUE(store->dump_replicated() == a_dump);
}

class FailStopTest : public ReplicationTest {
 protected:
  ~FailStopTest() override { gw_.reset(); }  // before env_, which the gateway uses as it closes
  GatewayOptions options() override {
    GatewayOptions o = ReplicationTest::options();
    o.env = &env_;
    // Reads inside apply fail while armed: the hook runs right before apply.
    o.on_apply = [this](std::string_view) {
      if (arm_in_apply_) env_.arm(FileOp::kRead, ".sst");
    };
    return o;
  }
  kiseki::testing::FaultEnv env_;
  bool arm_in_apply_ = false;
};

TEST_F(FailStopTest, AReadErrorInApplyFailsTheOperationAndChangesNothing) {
  random_ops(5, 150);
  // Push everything into SST files and start with a cold cache, so that apply's
  // reads go to the files.
  ASSERT_TRUE(gw_->store_for_test()->flush().is_ok());
  std::string before = gw_->store_for_test()->dump_replicated();
  reopen();  // after the dump, which warmed the block cache
  arm_in_apply_ = true;
  auto r = gw_->mkdir(ns_, ns::kRootInode, "new-dir", 0755, {});
  arm_in_apply_ = false;
  env_.disarm();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.code(), ErrorCode::kIoError) << r.status().to_string();
  EXPECT_NE(r.status().message().find("injected fault"), std::string::npos) << r.status().to_string();
  EXPECT_GT(env_.faults(), 0u);
  EXPECT_TRUE(gw_->store_for_test()->dump_replicated() == before) << "a failed apply must leave the store unchanged";
  // The node is not left broken: the same operation succeeds once reads work.
  ASSERT_TRUE(gw_->mkdir(ns_, ns::kRootInode, "new-dir", 0755, {}).is_ok());
  EXPECT_FALSE(gw_->store_for_test()->dump_replicated() == before);
}

TEST_F(FailStopTest, ASegmentReadErrorIsAnErrorNeverData) {
  put("obj", kiseki::testing::random_bytes(100000, 3));
  env_.arm(FileOp::kRead, "/chunks/");
  EXPECT_EQ(gw_->get_object(ns_, "obj", {}, nullptr).code(), ErrorCode::kIoError);
  env_.disarm();
  EXPECT_EQ(get("obj"), kiseki::testing::random_bytes(100000, 3));
}

TEST_F(GatewayTest, ARequestIdAppliesOnce) {
  Caller who;
  who.req = {42, 7};
  auto first = gw_->create(ns_, ns::kRootInode, "f", 0644, who, true);
  ASSERT_TRUE(first.is_ok());
  auto again = gw_->create(ns_, ns::kRootInode, "f", 0644, who, true);
  ASSERT_TRUE(again.is_ok()) << "a retry gets the first result, not kExists: " << again.status().to_string();
  EXPECT_EQ(again->ino, first->ino);
  Caller other;
  other.req = {42, 8};
  EXPECT_EQ(gw_->create(ns_, ns::kRootInode, "f", 0644, other, true).code(), ErrorCode::kExists);

  Caller rm;
  rm.req = {42, 9};
  ASSERT_TRUE(gw_->unlink(ns_, ns::kRootInode, "f", rm).is_ok());
  reopen();  // remembered in the replicated state, not in memory
  EXPECT_TRUE(gw_->unlink(ns_, ns::kRootInode, "f", rm).is_ok()) << "a retried unlink must not answer kNotFound";
  EXPECT_EQ(gw_->unlink(ns_, ns::kRootInode, "f", {}).code(), ErrorCode::kNotFound);
  // A first result that was a refusal is kept too.
  Caller mk;
  mk.req = {43, 1};
  ASSERT_TRUE(gw_->mkdir(ns_, ns::kRootInode, "d", 0755, {}).is_ok());
  EXPECT_EQ(gw_->mkdir(ns_, ns::kRootInode, "d", 0755, mk).code(), ErrorCode::kExists);
  ASSERT_TRUE(gw_->rmdir(ns_, ns::kRootInode, "d", {}).is_ok());
  EXPECT_EQ(gw_->mkdir(ns_, ns::kRootInode, "d", 0755, mk).code(), ErrorCode::kExists);
}

TEST(Idempotency, ARequestIdAppliesOnceAcrossKillNine) {
  kiseki::testing::TempDir dir;
  CrashWriter w = spawn_crash_writer({dir.path(), "once", "99", "5"});
  ASSERT_GE(w.pid, 0);
  pid_t pid = w.pid;
  FILE* in = w.out;
  unsigned long long ino = 0;
  ASSERT_EQ(fscanf(in, "ACK %llu", &ino), 1);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  fclose(in);
  ASSERT_TRUE(WIFSIGNALED(status));

  GatewayOptions o;
  o.data_dir = dir.path();
  auto g = Gateway::open(o);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  auto t = (*g)->find_tenant("crash");
  ASSERT_TRUE(t.is_ok());
  NsRef ns = (*g)->find_namespace(t->id, "b")->ref;
  Caller who;
  who.req = {99, 5};
  auto retry = (*g)->create(ns, ns::kRootInode, "once", 0644, who, true);
  ASSERT_TRUE(retry.is_ok()) << retry.status().to_string();
  EXPECT_EQ(retry->ino, ino) << "the retry returns the first result";
  EXPECT_EQ((*g)->create(ns, ns::kRootInode, "once", 0644, {}, true).code(), ErrorCode::kExists);
}

// A failed fsync may have dropped dirty pages, and a retry can report success:
// after one, nothing more is acknowledged until a restart (fail-stop).
class SyncFailStopTest : public GatewayTest {
 protected:
  // The gateway syncs as it closes: it goes before env_ does.
  ~SyncFailStopTest() override { gw_.reset(); }
  GatewayOptions options() override {
    GatewayOptions o = GatewayTest::options();
    o.durability = Durability::kSync;
    o.env = &env_;
    return o;
  }
  // A chunked PUT while the syncs of files under `where` fail.
  Status put_while_syncs_fail(const std::string& where, const std::string& key, uint64_t seed) {
    env_.arm(FileOp::kSync, where);
    auto r = gw_->put_object(ns_, key, source_from(as_bytes(kiseki::testing::random_bytes(70000, seed))), {});
    env_.disarm();
    return r.status();
  }
  kiseki::testing::FaultEnv env_;
};

TEST_F(SyncFailStopTest, AFailedWalSyncRefusesEveryLaterWrite) {
  put("before", "kept");
  Status r = put_while_syncs_fail("/meta/", "during", 4);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.code(), ErrorCode::kIoError) << r.to_string();
  EXPECT_NE(gw_->write_fault().find("sync failed"), std::string::npos) << gw_->write_fault();
  auto again = gw_->mkdir(ns_, ns::kRootInode, "after", 0755, {});
  ASSERT_FALSE(again.is_ok()) << "a write after a failed WAL sync must not be acknowledged";
  EXPECT_NE(again.status().message().find("injected fault"), std::string::npos) << again.status().to_string();
  reopen();
  EXPECT_EQ(get("before"), "kept");
  ASSERT_TRUE(gw_->mkdir(ns_, ns::kRootInode, "after", 0755, {}).is_ok());
}

TEST_F(SyncFailStopTest, AFailedSegmentSyncRefusesEveryLaterWriteOfChunks) {
  std::string before = kiseki::testing::random_bytes(70000, 7);  // chunked, synced before the fault
  put("before", before);
  Status r = put_while_syncs_fail("/chunks/", "during", 5);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.code(), ErrorCode::kIoError) << r.to_string();
  EXPECT_EQ(gw_->head_object(ns_, "during").code(), ErrorCode::kNotFound) << "nothing referenced the unsynced chunk";
  auto again = gw_->put_object(ns_, "after", source_from(as_bytes(kiseki::testing::random_bytes(70000, 6))), {});
  EXPECT_FALSE(again.is_ok()) << "chunks after a failed segment sync must not be acknowledged";
  EXPECT_NE(gw_->write_fault().find("sync failed"), std::string::npos) << gw_->write_fault();
  reopen();
  EXPECT_EQ(gw_->write_fault(), "");
  EXPECT_EQ(get("before"), before);
  put("after", kiseki::testing::random_bytes(70000, 6));
  EXPECT_EQ(get("after"), kiseki::testing::random_bytes(70000, 6));
}

}  // namespace
}  // namespace kiseki::gateway
