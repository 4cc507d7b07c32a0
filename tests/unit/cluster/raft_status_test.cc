// A shard's Raft status for reports: a loop held by other work (a snapshot
// install) does not hold the report; the last values read come back, marked busy.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "cluster/raft_host.h"
#include "cluster/raft_log.h"
#include "crypto/secret.h"
#include "namespace/state_machine.h"
#include "support/temp_dir.h"

namespace kiseki::cluster {
namespace {

TEST(RaftStatus, BusyLoopGivesTheLastValuesMarkedBusy) {
  testing::TempDir dir;
  RaftTransportOptions to;
  to.node_id = 1;
  to.listen = "127.0.0.1:0";
  to.key = crypto::SecretKey::random();
  auto host = RaftHost::start(to);
  ASSERT_TRUE(host.is_ok()) << host.status().to_string();
  auto store = meta::Store::open(dir.path() + "/meta");
  ASSERT_TRUE(store.is_ok());
  ns::StateMachine sm;
  RaftLogOptions ro;
  ro.node_id = 1;
  ro.dir = dir.path() + "/raft";
  ro.address = "127.0.0.1:1";  // a single voter: no peer is ever dialled
  ro.initial = {{1, ro.address}};
  ro.election_timeout_ms = 200;
  ro.heartbeat_ms = 50;
  auto raft = RaftLog::open(host->get(), store->get(), &sm, log::LogOptions{}, ro);
  ASSERT_TRUE(raft.is_ok()) << raft.status().to_string();
  RaftShardStatus s;
  for (int i = 0; i < 100 && s.role != "leader"; ++i) {
    s = (*raft)->status_within(std::chrono::milliseconds(2000));
    if (s.role != "leader") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(s.role, "leader");
  EXPECT_FALSE(s.busy);
  EXPECT_EQ(s.leader, 1u);

  // Hold the loop; the report answers in about its wait, with the last values.
  std::promise<void> release;
  std::shared_future<void> held = release.get_future().share();
  (*host)->post([held] { held.wait(); });
  auto t0 = std::chrono::steady_clock::now();
  RaftShardStatus busy = (*raft)->status_within(std::chrono::milliseconds(100));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(busy.busy);
  EXPECT_EQ(busy.role, "leader");
  EXPECT_EQ(busy.term, s.term);
  EXPECT_EQ(busy.leader, 1u);
  EXPECT_LT(took, std::chrono::seconds(5));
  release.set_value();
  RaftShardStatus after = (*raft)->status();
  EXPECT_FALSE(after.busy);
  EXPECT_EQ(after.role, "leader");
  raft->reset();
}

}  // namespace
}  // namespace kiseki::cluster
