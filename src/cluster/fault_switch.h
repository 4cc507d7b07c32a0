// A test-only network switch (kiseki-server --test-faults): the nodes it cuts
// this node off from get no fabric call and no Raft message from it, and
// nothing of theirs is taken, as if the link between them were down. Tests
// use it to partition a cluster on one machine (docs/cluster.md#testing).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>

namespace kiseki::cluster {

class FaultSwitch {
 public:
  // Cuts this node off from `nodes` (an empty set heals every link).
  void isolate(std::set<uint64_t> nodes) {
    std::lock_guard lock(mu_);
    cut_ = std::move(nodes);
    any_.store(!cut_.empty());
  }
  bool cut(uint64_t node) const {
    if (!any_.load(std::memory_order_relaxed)) return false;
    std::lock_guard lock(mu_);
    return cut_.count(node) != 0;
  }
  bool any() const { return any_.load(std::memory_order_relaxed); }
  std::set<uint64_t> isolated() const {
    std::lock_guard lock(mu_);
    return cut_;
  }

 private:
  mutable std::mutex mu_;
  std::set<uint64_t> cut_;
  std::atomic<bool> any_{false};
};

}  // namespace kiseki::cluster
