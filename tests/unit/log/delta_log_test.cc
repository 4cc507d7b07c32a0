// The local delta log's write order: a record that relies on before_commit (an
// UNSTABLE write's, whose chunks are not synced) is never written during a WAL
// sync round that began after it was queued, and a durable record whose chunks are not synced yet (an S3
// PUT's) only after a segment sync (before_write) that began after it was
// submitted. Neither holds up the records behind it that need neither.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "log/delta_log.h"
#include "meta/schema.h"
#include "meta/store.h"
#include "support/temp_dir.h"

namespace kiseki::log {
namespace {

using namespace std::chrono_literals;

// Applies a record by writing it under its own name; notes the order, the WAL
// sync round running at the time (its number; 0 when none), and how many
// before_write calls had ended.
class Recorder : public StateMachine {
 public:
  Recorder(const std::atomic<int>* in_round, const std::atomic<int>* presyncs_ended)
      : in_round_(in_round), presyncs_ended_(presyncs_ended) {}
  Status apply(std::string_view record, meta::Txn& txn, ApplyResult* r) override {
    txn.put(meta::Cf::kSystem, "rec/" + std::string(record), "1");
    std::lock_guard lock(mu_);
    applied_.push_back({std::string(record), in_round_->load()});
    presyncs_at_.push_back(presyncs_ended_->load());
    cv_.notify_all();
    r->status = Status::ok();
    return Status::ok();
  }
  // Waits up to `limit` for `record` to be applied; whether it was, and the
  // round running then.
  bool wait_for(const std::string& record, std::chrono::milliseconds limit, int* during_round = nullptr) {
    std::unique_lock lock(mu_);
    auto found = [&] {
      for (const auto& a : applied_)
        if (a.first == record) {
          if (during_round) *during_round = a.second;
          return true;
        }
      return false;
    };
    return cv_.wait_for(lock, limit, found);
  }
  std::vector<std::pair<std::string, int>> applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  // The before_write calls ended when each record of applied() was applied.
  std::vector<int> presyncs_at() {
    std::lock_guard lock(mu_);
    return presyncs_at_;
  }

 private:
  const std::atomic<int>* in_round_;
  const std::atomic<int>* presyncs_ended_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, int>> applied_;
  std::vector<int> presyncs_at_;
};

// A store on disk and a recorder; `in_round` is what the test's before_commit
// sets while it runs: the round's number.
class DeltaLogGate : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = meta::Store::open(dir_.path());
    ASSERT_TRUE(s.is_ok());
    store_ = std::move(*s);
  }
  kiseki::testing::TempDir dir_;
  std::unique_ptr<meta::Store> store_;
  std::atomic<int> in_round{0};
  std::atomic<int> presyncs_begun{0}, presyncs_ended{0};
  Recorder sm{&in_round, &presyncs_ended};
};

// Holds the leader of the record "slow" in its apply turn (so that what is
// submitted meanwhile stays queued), and every WAL sync round in its
// before_commit (marked in `in_round` as round 1), until the test lets go.
class Holds {
 public:
  explicit Holds(std::atomic<int>* in_round) : in_round_(in_round) {}
  void install(LogOptions* opts) {
    opts->on_apply = [this](std::string_view record) {
      if (record != "slow") return;
      std::unique_lock lock(mu_);
      applying_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_apply_; });
    };
    opts->before_commit = [this] {
      std::unique_lock lock(mu_);
      if (hold_round_) *in_round_ = 1;
      in_round_begun_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_round_; });
      return Status::ok();
    };
  }
  bool wait_applying() { return wait([&] { return applying_; }); }
  bool wait_round() { return wait([&] { return in_round_begun_; }); }
  void release_apply() { release(&hold_apply_); }
  void release_round() {
    *in_round_ = 0;
    release(&hold_round_);
  }

 private:
  template <typename Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, pred);
  }
  void release(bool* hold) {
    {
      std::lock_guard lock(mu_);
      *hold = false;
    }
    cv_.notify_all();
  }
  std::atomic<int>* in_round_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_apply_ = true, hold_round_ = true, applying_ = false, in_round_begun_ = false;
};

// A log under kSync whose rounds (and "slow") `holds` holds.
std::unique_ptr<DeltaLog> held_log(meta::Store* store, StateMachine* sm, Holds* holds) {
  LogOptions opts;
  opts.durability = Durability::kSync;
  holds->install(&opts);
  return std::make_unique<DeltaLog>(store, sm, opts);
}

TEST_F(DeltaLogGate, RelyingRecordWaitsOutTheRoundWhileDurableOnesGoAhead) {
  Holds holds(&in_round);
  holds.release_apply();  // no record here is "slow"
  auto log = held_log(store_.get(), &sm, &holds);

  // A durable record's WAL sync round begins and is held in before_commit.
  std::thread first([&] { EXPECT_TRUE(log->submit("durable-0").is_ok()); });
  ASSERT_TRUE(holds.wait_round());
  // An unstable record arrives during the round, then a durable one.
  std::thread unstable([&] { EXPECT_TRUE(log->submit("unstable-1", /*durable=*/false).is_ok()); });
  std::this_thread::sleep_for(50ms);  // usually queued first (the checks hold either way)
  std::thread durable([&] { EXPECT_TRUE(log->submit("durable-2").is_ok()); });

  int during = 0;
  EXPECT_TRUE(sm.wait_for("durable-2", 10s, &during)) << "a durable record waited behind an unstable one";
  EXPECT_EQ(during, 1);
  EXPECT_FALSE(sm.wait_for("unstable-1", 100ms)) << "an unstable record was written during a WAL sync round";

  holds.release_round();
  first.join();
  durable.join();
  unstable.join();
  // Applied once the round let go, after the durable record that passed it.
  auto applied = sm.applied();
  ASSERT_EQ(applied.size(), 3u);
  EXPECT_EQ(applied[1].first, "durable-2");
  EXPECT_EQ(applied[2].first, "unstable-1");
  EXPECT_EQ(log->applied_index(), 3u);
  EXPECT_TRUE(log->sync().is_ok());
  log.reset();
  for (const char* r : {"durable-0", "unstable-1", "durable-2"}) {
    std::string v;
    EXPECT_TRUE(store_->get(meta::Cf::kSystem, std::string("rec/") + r, &v).is_ok()) << r;
  }
}

// A round's before_commit covers every chunk appended before the round began,
// so an unstable record queued before it is written during it: it does not
// wait for the round's end (under NFS put-heavy load rounds run back to back,
// and a record that waited for a gap between two could wait out several).
TEST_F(DeltaLogGate, RelyingRecordQueuedBeforeTheRoundIsWrittenDuringIt) {
  Holds holds(&in_round);
  auto log = held_log(store_.get(), &sm, &holds);
  // Written, not yet durable: the round below has something to sync.
  ASSERT_TRUE(log->submit("unstable-0", /*durable=*/false).is_ok());

  std::thread slow([&] { EXPECT_TRUE(log->submit("slow").is_ok()); });
  ASSERT_TRUE(holds.wait_applying());
  // Queued while the leader holds the turn, before any round begins.
  std::thread unstable([&] { EXPECT_TRUE(log->submit("unstable-1", /*durable=*/false).is_ok()); });
  std::this_thread::sleep_for(50ms);
  // A round begins (an NFS COMMIT) and is held in before_commit.
  std::thread commit([&] { EXPECT_TRUE(log->sync().is_ok()); });
  ASSERT_TRUE(holds.wait_round());
  holds.release_apply();
  int during = 0;
  EXPECT_TRUE(sm.wait_for("unstable-1", 10s, &during)) << "a record queued before the round waited it out";
  EXPECT_EQ(during, 1);
  // One queued during the round waits for its end.
  std::thread late([&] { EXPECT_TRUE(log->submit("unstable-2", /*durable=*/false).is_ok()); });
  EXPECT_FALSE(sm.wait_for("unstable-2", 100ms)) << "written during a round that began after it was queued";
  holds.release_round();
  for (auto* t : {&slow, &unstable, &commit, &late}) t->join();
  EXPECT_TRUE(sm.wait_for("unstable-2", 10s, &during));
  EXPECT_EQ(during, 0);
  EXPECT_EQ(log->applied_index(), 4u);
}

// An unstable record written in one group with durable ones is answered once
// written: it does not wait for the WAL sync its group's durable records need.
TEST_F(DeltaLogGate, UnstableRecordIsAnsweredWithoutItsGroupsWalSync) {
  Holds holds(&in_round);
  auto log = held_log(store_.get(), &sm, &holds);
  std::thread slow([&] { EXPECT_TRUE(log->submit("slow").is_ok()); });
  ASSERT_TRUE(holds.wait_applying());
  // Both queued while the leader holds the turn: the next leader takes them
  // as one group.
  std::atomic<bool> durable_done{false}, unstable_done{false};
  std::thread durable([&] {
    EXPECT_TRUE(log->submit("durable-a").is_ok());
    durable_done = true;
  });
  std::thread unstable([&] {
    EXPECT_TRUE(log->submit("unstable-b", /*durable=*/false).is_ok());
    unstable_done = true;
  });
  std::this_thread::sleep_for(50ms);
  holds.release_apply();  // "slow" is written; its WAL sync round is held in before_commit
  EXPECT_TRUE(sm.wait_for("durable-a", 10s));
  EXPECT_TRUE(sm.wait_for("unstable-b", 10s));
  for (int i = 0; i < 1000 && !unstable_done; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(unstable_done) << "an unstable record waited for its group's WAL sync";
  EXPECT_FALSE(durable_done) << "a durable record was answered before a WAL sync";
  holds.release_round();
  for (auto* t : {&slow, &durable, &unstable}) t->join();
  EXPECT_TRUE(durable_done);
  EXPECT_EQ(log->applied_index(), 3u);
}

TEST_F(DeltaLogGate, UnsyncedChunksWaitForASegmentSyncBegunAfterThemWhileOthersGoAhead) {
  // The first before_write is held until the test lets it go.
  std::mutex mu;
  std::condition_variable cv;
  bool hold = true;
  LogOptions opts;
  opts.durability = Durability::kSync;
  opts.before_write = [&] {
    int n = ++presyncs_begun;
    std::unique_lock lock(mu);
    cv.notify_all();
    if (n == 1) cv.wait(lock, [&] { return !hold; });
    ++presyncs_ended;
    return Status::ok();
  };
  auto log = std::make_unique<DeltaLog>(store_.get(), &sm, opts);

  std::thread first([&] { EXPECT_TRUE(log->submit("unsynced-0", true, /*refs_synced=*/false).is_ok()); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return presyncs_begun.load() == 1; }));
  }
  // Queued while the first segment sync runs: it needs the next one.
  std::thread second([&] { EXPECT_TRUE(log->submit("unsynced-1", true, /*refs_synced=*/false).is_ok()); });
  std::this_thread::sleep_for(50ms);
  std::thread plain([&] { EXPECT_TRUE(log->submit("synced-2").is_ok()); });

  EXPECT_TRUE(sm.wait_for("synced-2", 10s)) << "a record with synced chunks waited behind a segment sync";
  EXPECT_FALSE(sm.wait_for("unsynced-0", 100ms)) << "written before its chunks' segment sync ended";
  EXPECT_FALSE(sm.wait_for("unsynced-1", 10ms));
  {
    std::lock_guard lock(mu);
    hold = false;
  }
  cv.notify_all();
  first.join();
  second.join();
  plain.join();
  auto applied = sm.applied();
  auto at = sm.presyncs_at();
  ASSERT_EQ(applied.size(), 3u);
  for (size_t k = 0; k < applied.size(); ++k) {
    if (applied[k].first == "unsynced-0") {
      EXPECT_GE(at[k], 1);
    }
    if (applied[k].first == "unsynced-1") {
      EXPECT_GE(at[k], 2) << "written after a segment sync that began before it";
    }
  }
  EXPECT_EQ(presyncs_begun.load(), 2);
  EXPECT_EQ(log->applied_index(), 3u);
}

// A record made late (submit_finished, an S3 PUT's, whose ETag MD5 is only
// queued until then) is made after the segment sync its chunks waited for, in
// the leader's turn; one that cannot be made fails alone, and nothing of it
// applies.
TEST_F(DeltaLogGate, ARecordMadeLateIsMadeAfterItsChunksSyncAndFailsAlone) {
  LogOptions opts;
  opts.durability = Durability::kSync;
  opts.before_write = [&] {
    ++presyncs_begun;
    std::this_thread::sleep_for(2ms);
    ++presyncs_ended;
    return Status::ok();
  };
  DeltaLog log(store_.get(), &sm, opts);
  int syncs_when_made = -1;
  RecordFinisher make = [&](std::string* r) {
    syncs_when_made = presyncs_ended.load();
    *r = "made";
    return Status::ok();
  };
  auto out = log.submit_finished(make, true, /*refs_synced=*/false);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(syncs_when_made, 1) << "made before its chunks' segment sync ended";
  // Several at once, every other one failing to be made: the others apply.
  std::vector<std::thread> ts;
  std::atomic<int> failed{0};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      RecordFinisher f = [t](std::string* r) {
        if (t % 2) return invalid_argument("the body's MD5 differs");
        *r = "late-" + std::to_string(t);
        return Status::ok();
      };
      auto o = log.submit_finished(f, true, /*refs_synced=*/false);
      if (t % 2) {
        EXPECT_EQ(o.code(), ErrorCode::kInvalidArgument);
        failed.fetch_add(1);
      } else {
        EXPECT_TRUE(o.is_ok()) << o.status().to_string();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 4);
  std::set<std::string> applied;
  for (const auto& [r, during] : sm.applied()) applied.insert(r);
  EXPECT_EQ(applied, (std::set<std::string>{"made", "late-0", "late-2", "late-4", "late-6"}));
  EXPECT_EQ(log.applied_index(), 5u);
}

TEST_F(DeltaLogGate, AFailedSegmentSyncFailsTheRecordsThatWaitedForIt) {
  LogOptions opts;
  opts.durability = Durability::kSync;
  opts.before_write = [] { return make_error(ErrorCode::kIoError, "segment fdatasync failed"); };
  DeltaLog log(store_.get(), &sm, opts);
  EXPECT_EQ(log.submit("unsynced", true, /*refs_synced=*/false).code(), ErrorCode::kIoError);
  EXPECT_TRUE(log.submit("synced").is_ok());
  auto applied = sm.applied();
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].first, "synced");
}

// Writers of all three kinds (durable with synced chunks, durable with chunks
// to sync, unstable) through rounds and segment syncs that take a while: every
// record is applied exactly once, none relying during a round that began after
// its submit, none with unsynced chunks before a segment sync begun after its
// submit had ended.
TEST_F(DeltaLogGate, ThreeKindsOfWritersAllFinishInWriteOrder) {
  LogOptions opts;
  opts.durability = Durability::kSync;
  std::atomic<int> rounds{0};
  // in_round is set only while before_commit runs, not through the WAL sync
  // after it, so the check below is one-sided: a record applied while it is
  // set was surely written inside that round.
  opts.before_commit = [&] {
    in_round = rounds.fetch_add(1) + 1;
    std::this_thread::sleep_for(200us);
    in_round = 0;
    return Status::ok();
  };
  opts.before_write = [&] {
    ++presyncs_begun;
    std::this_thread::sleep_for(150us);
    ++presyncs_ended;
    return Status::ok();
  };
  DeltaLog log(store_.get(), &sm, opts);
  constexpr int kThreads = 9, kEach = 30;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        int kind = (t + i) % 3;  // 0 synced, 1 to sync, 2 unstable
        // The record carries the segment syncs and rounds begun before its
        // submit (its chunks' appends).
        std::string r = std::to_string(kind) + "/" + std::to_string(t) + "-" + std::to_string(i) + "/" +
                        std::to_string(rounds.load()) + "/" + std::to_string(presyncs_begun.load());
        EXPECT_TRUE(log.submit(r, kind != 2, /*refs_synced=*/kind != 1).is_ok()) << r;
      }
    });
  for (auto& t : ts) t.join();
  ASSERT_TRUE(log.sync().is_ok());
  auto applied = sm.applied();
  auto at = sm.presyncs_at();
  EXPECT_EQ(applied.size(), size_t(kThreads * kEach));
  std::set<std::string> seen;
  for (size_t k = 0; k < applied.size(); ++k) {
    const auto& [r, during] = applied[k];
    EXPECT_TRUE(seen.insert(r).second) << r << " applied twice";
    int kind = r[0] - '0';
    int begun = std::stoi(r.substr(r.rfind('/') + 1));
    if (kind == 1) {
      EXPECT_GT(at[k], begun) << r << " written before a segment sync covered it";
    }
    int rounds_before = std::stoi(r.substr(r.find('/', 2) + 1));
    if (kind == 2 && during) {
      EXPECT_LT(rounds_before, during) << "unstable " << r << " applied inside the before_commit of a round "
                                       << during << " begun after it";
    }
  }
  EXPECT_GT(rounds.load(), 0);
  EXPECT_GT(presyncs_ended.load(), 0);
  EXPECT_EQ(log.applied_index(), uint64_t(kThreads * kEach));
}

// Callers of sync() beside writers of durable records, through rounds that
// take a while: every call returns, and the rounds are shared (fewer than the
// durable records).
TEST_F(DeltaLogGate, SyncCallersAndDurableWritersAllReturnAndShareRounds) {
  LogOptions opts;
  opts.durability = Durability::kSync;
  std::atomic<int> rounds{0};
  opts.before_commit = [&] {
    ++rounds;
    std::this_thread::sleep_for(300us);
    return Status::ok();
  };
  DeltaLog log(store_.get(), &sm, opts);
  constexpr int kWriters = 6, kSyncers = 4, kEach = 40;
  std::atomic<int> calls{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kWriters; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(log.submit("w" + std::to_string(t) + "-" + std::to_string(i)).is_ok());
        ++calls;
      }
    });
  for (int t = 0; t < kSyncers; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(log.sync().is_ok());
        ++calls;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(calls.load(), (kWriters + kSyncers) * kEach);
  EXPECT_EQ(log.applied_index(), uint64_t(kWriters * kEach));
  EXPECT_GT(rounds.load(), 1);
  EXPECT_LT(rounds.load(), kWriters * kEach) << "every writer ran a round of its own";
}

// Callers waiting on a round that does not cover them (their records were
// written after it began): when it ends, one of them runs the next round,
// though no one else calls in, and both return.
TEST_F(DeltaLogGate, WaitersARoundDoesNotCoverRunTheNextOneThemselves) {
  Holds holds(&in_round);
  auto log = held_log(store_.get(), &sm, &holds);
  holds.release_apply();
  auto first = std::async(std::launch::async, [&] { return log->submit("a"); });
  ASSERT_TRUE(holds.wait_round());  // round 1 runs, through "a" only
  // "b" is written during round 1 and waits for a round that covers it; so
  // does a sync() called after it.
  auto second = std::async(std::launch::async, [&] { return log->submit("b"); });
  ASSERT_TRUE(sm.wait_for("b", 10s));
  auto syncer = std::async(std::launch::async, [&] { return log->sync(); });
  std::this_thread::sleep_for(50ms);  // both asleep on round 1
  holds.release_round();
  ASSERT_TRUE(first.get().is_ok());
  bool b_done = second.wait_for(10s) == std::future_status::ready;
  bool s_done = syncer.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(b_done) << "\"b\" still waits for a round no one runs";
  EXPECT_TRUE(s_done) << "sync() still waits for a round no one runs";
  if (!b_done || !s_done) {
    ASSERT_TRUE(log->sync().is_ok());  // a round of its own lets them go
  }
  EXPECT_TRUE(second.get().is_ok());
  EXPECT_TRUE(syncer.get().is_ok());
}

}  // namespace
}  // namespace kiseki::log
