// A simulation of the cluster's chunk logic with in-memory nodes and disks:
// placement (placement.h), the quorum write with its fallback (as
// ClusterNode::replicate does it), degraded reads from any K fragments, and the
// repair service's decisions (repair_plan.h), under seeded schedules of node
// kills, partitions, slow (failing) disks, lost disks, removals and joins.
// After every step, every acknowledged chunk must read back from the nodes that
// answer, while no more damage is outstanding than an acknowledged write
// promises to survive (one node for ec=K+M and replicas=3); at the
// end, with every fault healed, repair must converge: every slot on its home,
// nothing anywhere else. KISEKI_SIM_SEEDS sets the schedules per code (default
// 1000: 2 250 in all, 60 steps each).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "cluster/erasure.h"
#include "cluster/placement.h"
#include "cluster/repair_plan.h"

namespace kiseki::cluster {
namespace {

struct SimNode {
  uint64_t id = 0;
  std::string domain;
  bool up = true;      // answers (not killed, not cut off)
  bool member = true;  // in the map (not removed)
  bool flaky = false;  // a slow disk: calls to it fail half the time
  std::map<ChunkId, std::string> disk;
};

class Sim {
 public:
  Sim(uint64_t seed, Redundancy form) : rng_(seed), form_(form) {
    const int n = static_cast<int>(form.slots()) + static_cast<int>(rng_() % 3);
    for (int i = 1; i <= n; ++i) add_node();
    if (form.erasure_coded()) code_ = *ErasureCode::get(form.a, form.b);
  }

  void step(std::string* log) {
    uint32_t r = rng_() % 100;
    if (r < 35) {
      write(log);
    } else if (r < 55) {
      repair_pass();
      *log += "repair ";
    } else if (r < 62 && budget() > 0) {
      SimNode* n = pick([](const SimNode& x) { return x.up && x.member; });
      if (n) {
        n->up = false;
        *log += (rng_() % 2 ? "kill " : "partition ") + std::to_string(n->id) + " ";
      }
    } else if (r < 70) {
      SimNode* n = pick([](const SimNode& x) { return !x.up && x.member; });
      if (n) {
        n->up = true;
        *log += "revive " + std::to_string(n->id) + " ";
      }
    } else if (r < 74 && budget() > 0) {
      SimNode* n = pick([](const SimNode& x) { return x.up && x.member; });
      if (n) {
        n->disk.clear();
        ++wiped_;
        *log += "wipe " + std::to_string(n->id) + " ";
      }
    } else if (r < 79) {
      SimNode* n = pick([](const SimNode& x) { return x.up && x.member; });
      if (n) {
        n->flaky = !n->flaky;
        *log += "flaky " + std::to_string(n->id) + " ";
      }
    } else if (r < 82 && members() > form_.needed() + 1) {
      // A node declared lost: out of the map, its disk gone.
      SimNode* n = pick([](const SimNode& x) { return !x.up && x.member; });
      if (n) {
        n->member = false;
        n->disk.clear();
        homes_.clear();
        ++wiped_;
        *log += "remove " + std::to_string(n->id) + " ";
      }
    } else if (r < 86 && nodes_.size() < 10) {
      add_node();
      homes_.clear();
      *log += "join " + std::to_string(nodes_.back().id) + " ";
    } else if (r < 90) {
      heal_all();
      *log += "heal ";
    }
  }

  // Every acknowledged chunk reads back from the nodes that answer.
  ::testing::AssertionResult all_readable() {
    for (const auto& [id, sealed] : acked_) {
      std::string back;
      if (!read(id, &back)) return ::testing::AssertionFailure() << "chunk " << id.hex() << " unreadable";
      if (back != sealed) return ::testing::AssertionFailure() << "chunk " << id.hex() << " reads other bytes";
    }
    return ::testing::AssertionSuccess();
  }

  // Faults healed, repair until nothing changes: every slot home, no strays.
  ::testing::AssertionResult converges() {
    heal_all();
    for (const auto& [id, sealed] : acked_) {
      ChunkView v = view(id);
      auto plan = plan_repair(v, live());
      if (plan.missing) return ::testing::AssertionFailure() << "chunk " << id.hex() << ": " << plan.missing << " slots not home";
      if (!strays_of(v, live()).empty()) return ::testing::AssertionFailure() << "chunk " << id.hex() << " has strays";
    }
    return all_readable();
  }

  size_t acked() const { return acked_.size(); }

 private:
  template <typename F>
  SimNode* pick(F ok) {
    std::vector<SimNode*> c;
    for (auto& n : nodes_)
      if (ok(n)) c.push_back(&n);
    return c.empty() ? nullptr : c[rng_() % c.size()];
  }
  void add_node() {
    SimNode n;
    n.id = nodes_.size() + 1;
    n.domain = "rack-" + std::to_string(rng_() % 3);
    nodes_.push_back(n);
  }
  uint32_t members() const {
    uint32_t m = 0;
    for (const auto& n : nodes_) m += n.member;
    return m;
  }
  // Damage outstanding, in nodes: those down, and disks lost since the last
  // heal; no more than an acknowledged write promises to survive.
  int budget() const {
    int used = wiped_;
    for (const auto& n : nodes_) used += n.member && !n.up;
    return static_cast<int>(write_tolerance(form_)) - used;
  }
  void heal_all() {
    for (auto& n : nodes_) {
      n.up = true;
      n.flaky = false;
    }
    for (int pass = 0; pass < 10 && repair_pass(); ++pass) {
    }
    wiped_ = 0;
  }
  std::vector<PlacementNode> active() const {
    std::vector<PlacementNode> out;
    for (const auto& n : nodes_)
      if (n.member) out.push_back({n.id, n.domain, 1});
    return out;
  }
  std::set<uint64_t> live() const {
    std::set<uint64_t> out;
    for (const auto& n : nodes_)
      if (n.member && n.up) out.insert(n.id);
    return out;
  }
  SimNode& node(uint64_t id) { return nodes_[id - 1]; }
  // A call to a node: fails when it is down or out, and half the time when flaky.
  bool reach(uint64_t id) {
    SimNode& n = node(id);
    return n.member && n.up && (!n.flaky || rng_() % 2);
  }

  std::string record_of(const std::string& sealed, uint32_t slot) const {
    return form_.erasure_coded() ? code_->fragment(sealed, slot) : sealed;
  }

  // ClusterNode::replicate: pieces to their homes, failed ones to the best
  // nodes left, acknowledged once the write quorum holds.
  void write(std::string* log) {
    ChunkId id{};
    for (int i = 8; i < 32; ++i) id.bytes[i] = static_cast<uint8_t>(rng_());
    std::string sealed(64 + rng_() % 3000, '\0');
    for (auto& c : sealed) c = static_cast<char>(rng_());
    auto nodes = active();
    std::vector<uint64_t> where = place(id, form_, nodes);
    std::vector<bool> acked(form_.slots(), false);
    std::set<uint64_t> failed;
    for (int round = 0; round < 10; ++round) {
      for (uint32_t s = 0; s < form_.slots(); ++s) {
        if (acked[s]) continue;
        if (reach(where[s])) {
          node(where[s]).disk[key_at(id, form_, key_of_slot(form_, s))] = record_of(sealed, s);
          acked[s] = true;
        } else {
          failed.insert(where[s]);
        }
      }
      std::vector<uint64_t> durable(form_.slots(), 0);
      for (uint32_t s = 0; s < form_.slots(); ++s)
        if (acked[s]) durable[s] = where[s];
      if (survives(form_, durable, write_tolerance(form_))) {
        acked_[id] = sealed;
        *log += "write ";
        return;
      }
      auto alt = place(id, form_, nodes, failed);
      for (uint32_t s = 0; s < form_.slots(); ++s)
        if (!acked[s]) where[s] = alt[s];
    }
    *log += "write-failed ";  // not acknowledged: nothing to keep
  }

  bool read(const ChunkId& id, std::string* out) {
    std::map<uint32_t, std::string> frags;
    for (auto& n : nodes_) {
      if (!n.member || !n.up) continue;
      for (size_t k = 0; k < key_count(form_); ++k) {
        auto it = n.disk.find(key_at(id, form_, k));
        if (it == n.disk.end()) continue;
        if (!form_.erasure_coded() || k == form_.slots()) {
          *out = it->second;
          return true;
        }
        frags[static_cast<uint32_t>(k)] = it->second;
      }
    }
    return form_.erasure_coded() && code_->decode(frags, out).is_ok();
  }

  // place() over the members, kept until they change.
  const std::vector<uint64_t>& homes(const ChunkId& id) {
    auto it = homes_.find(id);
    if (it == homes_.end()) it = homes_.emplace(id, place(id, form_, active())).first;
    return it->second;
  }

  ChunkView view(const ChunkId& id) {
    ChunkView v;
    v.id = id;
    v.form = form_;
    v.homes = homes(id);
    for (uint64_t n : live()) {
      auto& held = v.held[n];
      for (size_t k = 0; k < key_count(form_); ++k) {
        auto it = node(n).disk.find(key_at(id, form_, k));
        held.push_back(it == node(n).disk.end() ? 0 : static_cast<uint32_t>(it->second.size()));
      }
    }
    return v;
  }

  // The repair service's pass: the responsible node plans, reads, rebuilds
  // and puts, then drops strays of chunks whose slots are all home.
  // Returns whether it changed anything.
  bool repair_pass() {
    bool changed = false;
    const auto alive = live();
    for (const auto& [id, sealed] : acked_) {
      ChunkView v = view(id);
      if (!responsible_for(v.homes, alive)) continue;
      size_t before = distinct(v);
      auto plan = plan_repair(v, alive);
      std::map<size_t, std::string> got;
      for (const auto& [n, k] : plan.reads)
        if (reach(n)) got[k] = node(n).disk.at(key_at(id, form_, k));
      std::string whole;
      bool decoded = false;
      for (uint32_t s : plan.rebuild) {
        size_t k = key_of_slot(form_, s);
        std::string bytes;
        if (got.count(k)) {
          bytes = got[k];
        } else if (form_.erasure_coded()) {
          if (!decoded) {
            if (got.count(form_.slots())) {
              whole = got[form_.slots()];
            } else {
              std::map<uint32_t, std::string> f;
              for (auto& [kk, rec] : got) f[static_cast<uint32_t>(kk)] = rec;
              if (!code_->decode(f, &whole).is_ok()) break;
            }
            decoded = true;
          }
          bytes = code_->fragment(whole, s);
        } else {
          continue;
        }
        if (reach(v.homes[s])) {
          node(v.homes[s]).disk[key_at(id, form_, k)] = bytes;
          changed = true;
        }
      }
      v = view(id);
      for (const auto& [n, k] : strays_of(v, alive))
        if (reach(n)) changed |= node(n).disk.erase(key_at(id, form_, k)) > 0;
      // Rebalancing never leaves a chunk less redundant than it found it.
      ChunkView after = view(id);
      EXPECT_GE(distinct(after), std::min<size_t>(before, form_.slots())) << id.hex();
    }
    return changed;
  }

  // Distinct slots held by live nodes (copies: how many).
  size_t distinct(const ChunkView& v) const {
    size_t n = 0;
    if (!form_.erasure_coded()) {
      for (const auto& [node, held] : v.held) n += held[0] != 0;
      return n;
    }
    for (uint32_t s = 0; s < form_.slots(); ++s) n += v.anywhere(s);
    return n;
  }

  std::mt19937_64 rng_;
  Redundancy form_;
  std::shared_ptr<const ErasureCode> code_;
  std::vector<SimNode> nodes_;
  std::map<ChunkId, std::string> acked_;
  std::map<ChunkId, std::vector<uint64_t>> homes_;
  int wiped_ = 0;
};

int seeds() {
  const char* s = std::getenv("KISEKI_SIM_SEEDS");
  return s ? std::atoi(s) : 1000;
}

void run_schedules(Redundancy form, int count, uint64_t first) {
  for (int i = 0; i < count; ++i) {
    const uint64_t seed = first + static_cast<uint64_t>(i);
    Sim sim(seed, form);
    std::string log;
    for (int step = 0; step < 60; ++step) {
      sim.step(&log);
      ASSERT_TRUE(sim.all_readable()) << form.name() << " seed " << seed << " after: " << log;
    }
    ASSERT_TRUE(sim.converges()) << form.name() << " seed " << seed << " after: " << log;
    ASSERT_FALSE(::testing::Test::HasFailure()) << form.name() << " seed " << seed << " after: " << log;
  }
}

TEST(RepairSimulation, ErasureCoded4Plus2) { run_schedules(Redundancy::erasure(4, 2), seeds(), 1); }
TEST(RepairSimulation, ErasureCoded8Plus3) { run_schedules(Redundancy::erasure(8, 3), seeds() / 4, 100001); }
TEST(RepairSimulation, ThreeReplicas) { run_schedules(Redundancy::replicas(3), seeds(), 200001); }

// ---- placement's properties

TEST(Placement, SlotsSpreadOverDomainsAndNodes) {
  std::vector<PlacementNode> nodes;
  for (uint64_t i = 1; i <= 6; ++i) nodes.push_back({i, "rack-" + std::to_string((i - 1) / 2), 1});
  for (uint32_t t = 0; t < 2000; ++t) {
    ChunkId id{};
    id.bytes[8] = static_cast<uint8_t>(t);
    id.bytes[9] = static_cast<uint8_t>(t >> 8);
    auto where = place(id, Redundancy::erasure(4, 2), nodes);
    ASSERT_EQ(where.size(), 6u);
    std::set<uint64_t> distinct(where.begin(), where.end());
    EXPECT_EQ(distinct.size(), 6u);  // six nodes, six fragments: one each
    auto copies = place(id, Redundancy::replicas(3), nodes);
    std::set<std::string> racks;
    for (uint64_t n : copies) racks.insert(nodes[n - 1].domain);
    EXPECT_EQ(racks.size(), 3u);  // three copies in three racks
  }
}

TEST(Placement, ALostDomainNeverTakesMoreThanMFragments) {
  // Three racks of three nodes, 4+2: two fragments per rack.
  std::vector<PlacementNode> nodes;
  for (uint64_t i = 1; i <= 9; ++i) nodes.push_back({i, "rack-" + std::to_string((i - 1) / 3), 1});
  for (uint32_t t = 0; t < 2000; ++t) {
    ChunkId id{};
    id.bytes[10] = static_cast<uint8_t>(t);
    id.bytes[11] = static_cast<uint8_t>(t >> 8);
    std::map<std::string, int> per_rack;
    for (uint64_t n : place(id, Redundancy::erasure(4, 2), nodes)) ++per_rack[nodes[n - 1].domain];
    for (const auto& [rack, count] : per_rack) EXPECT_EQ(count, 2) << rack;
  }
}

TEST(Placement, WeightsShareTheSlots) {
  std::vector<PlacementNode> nodes{{1, "", 100}, {2, "", 100}, {3, "", 200}, {4, "", 400}};
  std::map<uint64_t, int> first;
  for (uint32_t t = 0; t < 20000; ++t) {
    ChunkId id{};
    std::memcpy(id.bytes.data() + 8, &t, sizeof(t));
    ++first[place(id, Redundancy::replicas(1), nodes)[0]];
  }
  // Shares of 1/8, 1/8, 1/4, 1/2 within a few percent.
  EXPECT_NEAR(first[1] / 20000.0, 0.125, 0.02);
  EXPECT_NEAR(first[3] / 20000.0, 0.25, 0.02);
  EXPECT_NEAR(first[4] / 20000.0, 0.5, 0.02);
}

TEST(Placement, AJoiningNodeMovesOnlyTheSlotsItWins) {
  std::vector<PlacementNode> nodes;
  for (uint64_t i = 1; i <= 8; ++i) nodes.push_back({i, "", 1});
  auto more = nodes;
  more.push_back({9, "", 1});
  size_t moved = 0, total = 0;
  for (uint32_t t = 0; t < 4000; ++t) {
    ChunkId id{};
    std::memcpy(id.bytes.data() + 8, &t, sizeof(t));
    auto a = place(id, Redundancy::erasure(4, 2), nodes), b = place(id, Redundancy::erasure(4, 2), more);
    for (size_t s = 0; s < a.size(); ++s) moved += a[s] != b[s];
    total += a.size();
  }
  // The ninth node's fair share is 6/9 of a chunk's slots... of the nodes:
  // about 1/9 of all slots; allow the cascade a little more.
  EXPECT_LT(static_cast<double>(moved) / total, 0.2);
  EXPECT_GT(moved, 0u);
}

}  // namespace
}  // namespace kiseki::cluster
