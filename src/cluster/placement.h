// Where a chunk's copies or fragments belong (docs/cluster.md#placement): a
// pure function of the chunk id, its redundancy and the active nodes of the
// map, so every node computes the same answer.
//
// Each slot (a copy, or fragment i) goes to the node with the highest weighted
// rendezvous score (xxh3 of the id, the slot and the node; the weight is the
// node's capacity) among those holding the fewest slots of the chunk so far,
// and of them those whose failure domain holds the fewest: no two slots share
// a domain while there are domains enough, the slots spread evenly over the
// domains when there are not, and a node takes a second slot only when every
// node has one.
// Copies share one score, so the N copies sit on the N best-ranked nodes;
// fragments score per index, so a node that joins takes over only the slots it
// wins and the rest stay where they are.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/redundancy.h"

namespace kiseki::cluster {

struct PlacementNode {
  uint64_t id = 0;
  std::string domain;   // failure domain; empty: the node is a domain of its own
  uint32_t weight = 1;  // capacity (GiB)
};

// The weighted rendezvous score of `node` for a slot seed of a chunk.
double placement_score(const ChunkId& id, uint32_t seed, const PlacementNode& node);

// The node of every slot (size form.slots(), empty when `nodes` is), skipping
// the nodes in `avoid` while others are left.
std::vector<uint64_t> place(const ChunkId& id, const Redundancy& form, const std::vector<PlacementNode>& nodes,
                            const std::set<uint64_t>& avoid = {});

}  // namespace kiseki::cluster
