#include "cluster/placement.h"

#include <xxhash.h>

#include <cmath>
#include <map>
#include <tuple>

namespace kiseki::cluster {

double placement_score(const ChunkId& id, uint32_t seed, const PlacementNode& node) {
  uint64_t h = XXH3_64bits_withSeed(id.bytes.data(), id.bytes.size(), node.id * 0x9e3779b97f4a7c15ull + seed);
  // A uniform draw in (0, 1); -w / ln(u) makes a node win in proportion to w.
  double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;
  return -static_cast<double>(node.weight ? node.weight : 1) / std::log(u);
}

std::vector<uint64_t> place(const ChunkId& id, const Redundancy& form, const std::vector<PlacementNode>& all,
                            const std::set<uint64_t>& avoid) {
  std::vector<const PlacementNode*> nodes;
  for (const auto& n : all)
    if (!avoid.count(n.id)) nodes.push_back(&n);
  if (nodes.empty())
    for (const auto& n : all) nodes.push_back(&n);
  std::vector<uint64_t> out;
  if (nodes.empty()) return out;
  auto domain = [](const PlacementNode* n) { return n->domain.empty() ? "node-" + std::to_string(n->id) : n->domain; };
  std::map<std::string, uint32_t> in_domain;
  std::map<uint64_t, uint32_t> on_node;
  std::vector<double> score(nodes.size());
  for (uint32_t slot = 0; slot < form.slots(); ++slot) {
    // Copies share one score; each fragment has its own.
    if (slot == 0 || form.erasure_coded()) {
      const uint32_t seed = form.erasure_coded() ? slot + 1 : 0;
      for (size_t i = 0; i < nodes.size(); ++i) score[i] = placement_score(id, seed, *nodes[i]);
    }
    // The fewest slots of this chunk on the node, then in its domain, then
    // the highest score.
    size_t best = 0;
    std::tuple<uint32_t, uint32_t, double> best_key;
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::tuple<uint32_t, uint32_t, double> key{on_node[nodes[i]->id], in_domain[domain(nodes[i])], -score[i]};
      if (i == 0 || key < best_key) {
        best = i;
        best_key = key;
      }
    }
    out.push_back(nodes[best]->id);
    ++on_node[nodes[best]->id];
    ++in_domain[domain(nodes[best])];
  }
  return out;
}

}  // namespace kiseki::cluster
