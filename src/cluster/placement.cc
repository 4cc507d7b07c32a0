#include "cluster/placement.h"

#include <xxhash.h>

#include <cmath>
#include <map>

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
  std::set<std::string> domains_used;
  std::map<uint64_t, uint32_t> slots_on;
  for (uint32_t slot = 0; slot < form.slots(); ++slot) {
    const uint32_t seed = form.erasure_coded() ? slot + 1 : 0;
    const PlacementNode* best = nullptr;
    double best_score = 0;
    int best_tier = 4;
    uint32_t best_load = 0;
    for (const PlacementNode* n : nodes) {
      uint32_t load = slots_on.count(n->id) ? slots_on[n->id] : 0;
      int tier = load > 0 ? 3 : domains_used.count(domain(n)) ? 2 : 1;
      double s = placement_score(id, seed, *n);
      bool better = tier < best_tier || (tier == best_tier && tier == 3 && load < best_load) ||
                    (tier == best_tier && (tier != 3 || load == best_load) && s > best_score);
      if (!best || better) {
        best = n;
        best_score = s;
        best_tier = tier;
        best_load = load;
      }
    }
    out.push_back(best->id);
    ++slots_on[best->id];
    domains_used.insert(domain(best));
  }
  return out;
}

}  // namespace kiseki::cluster
