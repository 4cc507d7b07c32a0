// What repair does for one chunk, decided from where its keys are: a pure
// function, so the repair service (repair.cc) and the simulation
// (tests/unit/cluster/repair_sim_test.cc) run the same decisions.
//
// A chunk's keys: one for copies (its id); for an erasure-coded chunk its K+M
// fragment ids, then its id (a whole copy a writer kept: never anyone's home,
// a source for rebuilding fragments, dropped once the fragments are home).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "common/ids.h"
#include "common/redundancy.h"

namespace kiseki::cluster {

size_t key_count(const Redundancy& form);
ChunkId key_at(const ChunkId& id, const Redundancy& form, size_t k);
// The key a slot is stored under.
inline size_t key_of_slot(const Redundancy& form, uint32_t slot) { return form.erasure_coded() ? slot : 0; }

struct ChunkView {
  ChunkId id;
  Redundancy form;
  std::vector<uint64_t> homes;  // slot → node (place())
  // Live node → the record length it holds per key (0: none).
  std::map<uint64_t, std::vector<uint32_t>> held;
  bool holds(uint64_t node, size_t key) const;
  bool anywhere(size_t key) const;
};

struct RepairPlan {
  uint32_t missing = 0;          // slots not on their home (live or not)
  uint32_t held = 0;             // distinct fragments, or copies, on the nodes that answered
  uint64_t bytes_missing = 0;    // their bytes, by the largest record seen
  bool unreadable = false;       // fewer distinct slots than the chunk needs
  std::vector<uint32_t> rebuild;  // slots whose live home lacks them
  // Records to read first: (node, key). A rebuild copies its own key where a
  // node holds it; otherwise it decodes (`decode`) from a whole copy or K fragments.
  std::vector<std::pair<uint64_t, size_t>> reads;
  bool decode = false;
};

RepairPlan plan_repair(const ChunkView& c, const std::set<uint64_t>& live);

// Whether `node` is the home of the chunk's key `k`.
bool is_home(const ChunkView& c, uint64_t node, size_t k);

// Once every slot is on its live home, the (node, key) records elsewhere: what
// rebalancing drops. Empty while any slot is not home.
std::vector<std::pair<uint64_t, size_t>> strays_of(const ChunkView& c, const std::set<uint64_t>& live);

// How many nodes a chunk may lose once its write is acknowledged: the write
// quorum beyond what a read needs (ec=K+M: 1; replicas=N: N/2).
inline uint32_t write_tolerance(const Redundancy& form) { return form.write_quorum() - form.needed(); }

// Whether the pieces made durable (slot → node, 0 where none) survive the loss
// of any `tolerance` nodes: a write is acknowledged only then. Two fragments on
// one node (fewer nodes than slots) count as one loss.
bool survives(const Redundancy& form, const std::vector<uint64_t>& durable_on, uint32_t tolerance);

// The node that repairs a chunk: its first live home; with none live, the
// live node of the lowest id (0: nobody is live).
uint64_t responsible_for(const std::vector<uint64_t>& homes, const std::set<uint64_t>& live);

}  // namespace kiseki::cluster
