#include "cluster/repair_plan.h"

#include <algorithm>

namespace kiseki::cluster {

size_t key_count(const Redundancy& form) { return form.erasure_coded() ? form.slots() + 1 : 1; }

ChunkId key_at(const ChunkId& id, const Redundancy& form, size_t k) {
  return form.erasure_coded() && k < form.slots() ? fragment_id(id, static_cast<uint32_t>(k)) : id;
}

bool ChunkView::holds(uint64_t node, size_t key) const {
  auto it = held.find(node);
  return it != held.end() && key < it->second.size() && it->second[key] != 0;
}

bool ChunkView::anywhere(size_t key) const {
  for (const auto& [n, v] : held)
    if (key < v.size() && v[key]) return true;
  return false;
}

bool survives(const Redundancy& form, const std::vector<uint64_t>& durable_on, uint32_t tolerance) {
  std::map<uint64_t, uint32_t> per_node;
  for (uint64_t n : durable_on)
    if (n) per_node[n] = form.erasure_coded() ? per_node[n] + 1 : 1;  // copies on one node are one
  std::vector<uint32_t> counts;
  for (const auto& [n, c] : per_node) counts.push_back(c);
  std::sort(counts.begin(), counts.end(), std::greater<>());
  uint32_t left = 0;
  for (size_t i = tolerance; i < counts.size(); ++i) left += counts[i];
  return left >= form.needed();
}

uint64_t responsible_for(const std::vector<uint64_t>& homes, const std::set<uint64_t>& live) {
  for (uint64_t h : homes)
    if (live.count(h)) return h;
  return live.empty() ? 0 : *live.begin();
}

RepairPlan plan_repair(const ChunkView& c, const std::set<uint64_t>& live) {
  RepairPlan p;
  const Redundancy& f = c.form;
  uint32_t largest = 0;
  for (const auto& [n, v] : c.held)
    for (uint32_t len : v) largest = std::max(largest, len);
  for (uint32_t s = 0; s < f.slots() && s < c.homes.size(); ++s) {
    if (c.holds(c.homes[s], key_of_slot(f, s))) continue;
    ++p.missing;
    p.bytes_missing += largest;
    if (live.count(c.homes[s])) p.rebuild.push_back(s);
  }
  const size_t whole = f.erasure_coded() ? f.slots() : 0;  // the key of a whole copy
  if (f.erasure_coded()) {
    for (size_t k = 0; k < whole; ++k) p.held += c.anywhere(k);
    p.unreadable = p.held < f.needed() && !c.anywhere(whole);
  } else {
    for (const auto& [n, v] : c.held) p.held += !v.empty() && v[0] != 0;
    p.unreadable = p.held == 0;
  }
  if (p.unreadable || p.rebuild.empty()) {
    p.rebuild.clear();
    return p;
  }
  std::set<size_t> keys;
  for (uint32_t s : p.rebuild) {
    if (c.anywhere(key_of_slot(f, s))) keys.insert(key_of_slot(f, s));
    else p.decode = true;
  }
  if (p.decode) {
    // From a whole copy where one is about, else any K fragments.
    if (c.anywhere(whole) && f.erasure_coded()) {
      keys.insert(whole);
    } else {
      size_t taken = 0;
      for (size_t k : keys) taken += k < whole;
      for (size_t k = 0; k < whole && taken < f.needed(); ++k)
        if (c.anywhere(k) && keys.insert(k).second) ++taken;
    }
  }
  for (size_t k : keys)
    for (const auto& [n, v] : c.held)
      if (k < v.size() && v[k]) {
        p.reads.emplace_back(n, k);
        break;
      }
  return p;
}

bool is_home(const ChunkView& c, uint64_t node, size_t k) {
  // A fragment's home is its slot's node; a copy's, any of the homes; a whole
  // copy of an erasure-coded chunk has none.
  if (c.form.erasure_coded()) return k < c.form.slots() && k < c.homes.size() && c.homes[k] == node;
  return std::find(c.homes.begin(), c.homes.end(), node) != c.homes.end();
}

std::vector<std::pair<uint64_t, size_t>> strays_of(const ChunkView& c, const std::set<uint64_t>& live) {
  std::vector<std::pair<uint64_t, size_t>> out;
  const Redundancy& f = c.form;
  if (c.homes.size() != f.slots()) return out;
  for (uint32_t s = 0; s < f.slots(); ++s)
    if (!live.count(c.homes[s]) || !c.holds(c.homes[s], key_of_slot(f, s))) return out;
  for (const auto& [node, v] : c.held)
    for (size_t k = 0; k < v.size(); ++k)
      if (v[k] && !is_home(c, node, k)) out.emplace_back(node, k);
  return out;
}

}  // namespace kiseki::cluster
