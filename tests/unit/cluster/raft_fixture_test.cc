// The shard's Raft group on libraft's deterministic fixture (raft/fixture.h):
// simulated time and network, the real ShardFsm applying real delta records with
// the namespace state machine to a real RocksDB store per server. Elections,
// replication, a partitioned leader, membership changes and snapshot installs,
// then seeded random schedules of kills, partitions and proposals; after each,
// every acknowledged record is in every replica and the replicas' states agree.
#include <gtest/gtest.h>

extern "C" {
#include <raft.h>
#include <raft/fixture.h>
}

#include <map>
#include <memory>
#include <random>
#include <set>

#include "cluster/raft_entry.h"
#include "cluster/shard_fsm.h"
#include "namespace/delta.h"
#include "namespace/state_machine.h"
#include "support/temp_dir.h"

namespace kiseki::cluster {
namespace {

// One fixture server's state: its store, state machine and FSM.
struct Replica {
  std::unique_ptr<testing::TempDir> dir;
  std::unique_ptr<meta::Store> store;
  ns::StateMachine sm;
  std::unique_ptr<ShardFsm> fsm;
};

class RaftFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::memset(&f_, 0, sizeof f_);
    ASSERT_EQ(raft_fixture_initialize(&f_), 0);
  }
  void TearDown() override { raft_fixture_close(&f_); }

  // Adds a server (not yet in any configuration).
  void grow() {
    auto r = std::make_unique<Replica>();
    r->dir = std::make_unique<testing::TempDir>();
    auto st = meta::Store::open(r->dir->path() + "/meta");
    ASSERT_TRUE(st.is_ok()) << st.status().to_string();
    r->store = std::move(*st);
    ShardFsmOptions o;
    o.node_id = replicas_.size() + 1;
    o.dir = r->dir->path() + "/raft";
    // The fabric's part, in process: a checkpoint of the origin's store.
    o.fetch_checkpoint = [this](uint64_t origin, uint64_t min_index, const std::string& dest) -> Status {
      Replica& from = *replicas_.at(origin - 1);
      if (from.fsm->applied() < min_index) return make_error(ErrorCode::kUnavailable, "behind");
      ++fetches_;
      return from.store->checkpoint(dest);
    };
    r->fsm = std::make_unique<ShardFsm>(r->store.get(), &r->sm, log::LogOptions{}, o);
    ASSERT_EQ(raft_fixture_grow(&f_, r->fsm->fsm()), 0);
    struct raft* rf = raft_fixture_get(&f_, static_cast<unsigned>(replicas_.size()));
    r->fsm->attach(rf);
    replicas_.push_back(std::move(r));
    if (started_) {  // a server that joins a running cluster
      ASSERT_EQ(raft_start(rf), 0);
    }
  }

  void start(unsigned n) {
    for (unsigned i = 0; i < n; ++i) grow();
    raft_configuration conf;
    ASSERT_EQ(raft_fixture_configuration(&f_, n, &conf), 0);
    ASSERT_EQ(raft_fixture_bootstrap(&f_, &conf), 0);
    raft_configuration_close(&conf);
    ASSERT_EQ(raft_fixture_start(&f_), 0);
    started_ = true;
  }

  struct raft* raft(unsigned i) { return raft_fixture_get(&f_, i); }

  unsigned leader() {
    EXPECT_TRUE(raft_fixture_step_until_has_leader(&f_, 10000));
    return raft_fixture_leader_index(&f_);
  }

  // Proposes an export record on server i (which must lead); `acked` learns the
  // name once the leader applied it.
  struct Proposal {
    struct raft_apply req{};
    RaftFixture* self;
    uint64_t seq;
  };
  int propose(unsigned i, const std::string& name, bool remove = false) {
    ns::Delta d;
    d.op = remove ? ns::Op::kDeleteExport : ns::Op::kPutExport;
    d.name = name;
    d.blob = "rw,clients=127.0.0.0/8";
    RequestId req{7, ++seq_};
    std::string record = ns::encode_record({d}, req);
    raft_buffer buf;
    buf.len = raft_entry_size(record.size());
    buf.base = raft_malloc(buf.len);
    encode_raft_entry(record, static_cast<char*>(buf.base));
    proposed_[seq_] = {name, remove};
    auto* p = new Proposal{{}, this, seq_};
    p->req.data = p;
    int rv = raft_apply(raft(i), &p->req, &buf, 1, [](struct raft_apply* r, int status, void* result) {
      std::unique_ptr<Proposal> p(static_cast<Proposal*>(r->data));
      if (status == 0) {
        auto* c = static_cast<Committed*>(result);
        EXPECT_TRUE(c->status.is_ok()) << c->status.to_string();
        p->self->acked_.insert(p->seq);
      }
    });
    if (rv != 0) {
      raft_free(buf.base);
      delete p;
    }
    return rv;
  }

  // Steps until every live member has applied what the leader committed: an
  // entry of the leader's term commits everything before it. A leader may lose
  // its term meanwhile (its entry with it): then the next one tries.
  void converge() {
    for (int attempt = 0; attempt < 10; ++attempt) {
      unsigned l = leader();
      ASSERT_LT(l, raft_fixture_n(&f_));
      raft_term term = raft(l)->current_term;
      ASSERT_EQ(propose(l, "converge-" + std::to_string(seq_ + 1)), 0);
      raft_index target = raft_last_index(raft(l));
      bool all = true;
      for (unsigned i = 0; i < raft_fixture_n(&f_) && all; ++i) {
        if (!raft_fixture_alive(&f_, i) || !member(raft(l), raft(i)->id)) continue;
        all = raft_fixture_step_until_applied(&f_, i, target, 10000) && raft(l)->current_term == term &&
              raft_state(raft(l)) == RAFT_LEADER;
      }
      if (all) return;
    }
    FAIL() << "the cluster did not converge";
  }

  static bool member(struct raft* leader, raft_id id) {
    for (unsigned k = 0; k < leader->configuration.n; ++k)
      if (leader->configuration.servers[k].id == id) return true;
    return false;
  }

  // Every live member's store holds the same replicated state, and every
  // acknowledged put (not deleted after) is in it.
  void check_agreement() {
    std::string first;
    int compared = 0;
    struct raft* l = raft(raft_fixture_leader_index(&f_));
    for (unsigned i = 0; i < raft_fixture_n(&f_); ++i) {
      if (!raft_fixture_alive(&f_, i)) continue;
      bool member = false;
      for (unsigned k = 0; k < l->configuration.n; ++k)
        if (l->configuration.servers[k].id == raft(i)->id) member = true;
      if (!member) continue;
      std::string dump = replicas_[i]->store->dump_replicated();
      // The applied index differs where a server's last entries were barriers.
      if (compared++ == 0) first = dump;
      else EXPECT_EQ(dump, first) << "server " << i << " differs";
    }
    // A name's last acknowledged record decides, unless a record of the other
    // kind proposed after it was not acknowledged: that one may have committed
    // (libraft fails the callbacks of a leader that stepped down) or not.
    std::map<std::string, std::pair<uint64_t, bool>> last;  // name → (seq, removed) of its last ack
    for (uint64_t seq : acked_) last[proposed_.at(seq).first] = {seq, proposed_.at(seq).second};
    for (const auto& [seq, p] : proposed_) {
      auto it = last.find(p.first);
      if (it != last.end() && seq > it->second.first && !acked_.count(seq) && p.second != it->second.second)
        last.erase(it);
    }
    for (unsigned i = 0; i < raft_fixture_n(&f_); ++i) {
      if (!raft_fixture_alive(&f_, i) || raft_state(raft(i)) != RAFT_LEADER) continue;
      for (const auto& [name, l] : last)
        EXPECT_EQ(has(i, name), !l.second) << "acknowledged " << (l.second ? "delete of " : "export ") << name;
    }
  }

  bool has(unsigned i, const std::string& name) {
    std::string v;
    return replicas_[i]->store->get(meta::Cf::kSystem, ns::export_key(name), &v).is_ok();
  }

  raft_fixture f_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::map<uint64_t, std::pair<std::string, bool>> proposed_;  // seq → (name, a delete)
  std::set<uint64_t> acked_;
  uint64_t seq_ = 0;
  int fetches_ = 0;
  bool started_ = false;
};

TEST_F(RaftFixture, ElectsAndReplicates) {
  start(3);
  unsigned l = leader();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(propose(l, "/t/e" + std::to_string(i)), 0);
  converge();
  check_agreement();
  EXPECT_EQ(acked_.size(), 51u);
}

TEST_F(RaftFixture, PartitionedLeaderLosesOnlyWhatWasNotCommitted) {
  start(3);
  unsigned old = leader();
  ASSERT_EQ(propose(old, "/t/before"), 0);
  converge();
  for (unsigned i = 0; i < 3; ++i)
    if (i != old) {
      raft_fixture_disconnect(&f_, old, i);
      raft_fixture_disconnect(&f_, i, old);
    }
  // The old leader takes a proposal it can never commit.
  ASSERT_EQ(propose(old, "/t/minority"), 0);
  raft_fixture_step_until_elapsed(&f_, 5000);
  unsigned now = 0;
  for (unsigned i = 0; i < 3; ++i)
    if (i != old && raft_state(raft(i)) == RAFT_LEADER) now = i + 1;
  ASSERT_NE(now, 0u) << "the majority elected no leader";
  ASSERT_EQ(propose(now - 1, "/t/majority"), 0);
  raft_fixture_step_until_elapsed(&f_, 1000);
  for (unsigned i = 0; i < 3; ++i) {
    raft_fixture_reconnect(&f_, old, i);
    raft_fixture_reconnect(&f_, i, old);
  }
  converge();
  check_agreement();
  for (uint64_t a : acked_) EXPECT_NE(proposed_.at(a).first, "/t/minority");
  EXPECT_FALSE(has(old, "/t/minority"));
}

TEST_F(RaftFixture, MembershipChanges) {
  start(3);
  unsigned l = leader();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(propose(l, "/t/m" + std::to_string(i)), 0);
  converge();
  grow();  // server 4: joins as a standby, then a voter
  struct Change {
    raft_change req{};
    int status = -1;
  };
  auto change = [&](auto fn) {
    Change c;
    c.req.data = &c;
    ASSERT_EQ(fn(&c.req), 0);
    ASSERT_TRUE(raft_fixture_step_until(&f_, [](raft_fixture*, void* arg) { return static_cast<Change*>(arg)->status >= 0; },
                                        &c, 30000));
    ASSERT_EQ(c.status, 0);
  };
  auto done = [](raft_change* r, int status) { static_cast<Change*>(r->data)->status = status; };
  l = leader();
  change([&](raft_change* r) { return raft_add(raft(l), r, 4, "4", done); });
  change([&](raft_change* r) { return raft_assign(raft(l), r, 4, RAFT_STANDBY, done); });
  change([&](raft_change* r) { return raft_assign(raft(l), r, 4, RAFT_VOTER, done); });
  for (int i = 0; i < 10; ++i) ASSERT_EQ(propose(l, "/t/n" + std::to_string(i)), 0);
  converge();
  check_agreement();
  EXPECT_TRUE(has(3, "/t/m3"));
  // Remove a follower: the other three go on.
  unsigned victim = l == 0 ? 1 : 0;
  change([&](raft_change* r) { return raft_remove(raft(l), r, raft(victim)->id, done); });
  raft_fixture_kill(&f_, victim);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(propose(l, "/t/after" + std::to_string(i)), 0);
  converge();
  check_agreement();
}

TEST_F(RaftFixture, FarBehindFollowerInstallsASnapshot) {
  start(3);
  for (unsigned i = 0; i < 3; ++i) {
    raft_set_snapshot_threshold(raft(i), 16);
    raft_set_snapshot_trailing(raft(i), 4);
  }
  unsigned l = leader();
  unsigned behind = l == 2 ? 1 : 2;
  raft_fixture_kill(&f_, behind);
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(propose(l, "/t/s" + std::to_string(i)), 0);
    raft_fixture_step_n(&f_, 5);
  }
  converge();
  raft_fixture_revive(&f_, behind);
  converge();
  check_agreement();
  EXPECT_GE(fetches_, 1) << "the follower should have installed a snapshot";
  EXPECT_TRUE(has(behind, "/t/s7"));
}

// Random schedules: kills, revivals, one-way and two-way cuts, proposals on
// whichever server leads; then heal and check. Seeds are fixed so that a
// failure reproduces (KISEKI_RAFT_SEEDS=n runs n, from KISEKI_RAFT_FIRST_SEED).
// Snapshots stay at libraft's default threshold here: with small thresholds
// under these schedules libraft 0.15's in-memory fixture I/O reads past a
// buffer it reallocated (valgrind: no Kiseki frame on the stack; seed 20 of
// threshold 32), so installs are tested by the deterministic test above.
TEST_F(RaftFixture, SeededRandomSchedules) {
  const char* env = std::getenv("KISEKI_RAFT_SEEDS");
  const char* first_env = std::getenv("KISEKI_RAFT_FIRST_SEED");
  int first = first_env ? std::atoi(first_env) : 1;
  int seeds = env ? std::atoi(env) : 20;
  size_t progress = 0;
  for (int seed = first; seed < first + seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    if (seed > first) {
      TearDown();
      replicas_.clear();
      acked_.clear();
      proposed_.clear();
      started_ = false;
      SetUp();
    }
    start(5);
    std::mt19937_64 rnd(seed);
    for (int round = 0; round < 200; ++round) {
      unsigned a = rnd() % 5, b = rnd() % 5;
      switch (rnd() % 10) {
        case 0: {  // kill one, never more than two at once
          int dead = 0;
          for (unsigned i = 0; i < 5; ++i) dead += !raft_fixture_alive(&f_, i);
          if (dead < 2 && raft_fixture_alive(&f_, a)) raft_fixture_kill(&f_, a);
          break;
        }
        case 1:
          if (!raft_fixture_alive(&f_, a)) raft_fixture_revive(&f_, a);
          break;
        case 2:
          if (a != b) raft_fixture_disconnect(&f_, a, b);
          break;
        case 3:
          if (a != b) raft_fixture_reconnect(&f_, a, b);
          break;
        default:
          for (unsigned i = 0; i < 5; ++i)
            if (raft_fixture_alive(&f_, i) && raft_state(raft(i)) == RAFT_LEADER)
              (void)propose(i, (rnd() % 4 == 0 ? "/t/x" : "/t/r") + std::to_string(rnd() % 50), rnd() % 6 == 0);
      }
      raft_fixture_step_n(&f_, 1 + rnd() % 20);
    }
    for (unsigned i = 0; i < 5; ++i) {
      if (!raft_fixture_alive(&f_, i)) raft_fixture_revive(&f_, i);
      for (unsigned j = 0; j < 5; ++j)
        if (i != j) raft_fixture_reconnect(&f_, i, j);
    }
    converge();
    check_agreement();
    progress += acked_.size() - 1;  // the schedule's records, not converge's
  }
  // Liveness on the whole: some schedules cut too much for any commit, not all.
  EXPECT_GT(progress, static_cast<size_t>(seeds) * 2);
}

}  // namespace
}  // namespace kiseki::cluster
