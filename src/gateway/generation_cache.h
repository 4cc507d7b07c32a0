// Values read from the metadata stores, kept while no store of this process
// has taken a write since they were read (meta::Store::generation()): what is
// served is exactly what the stores hold. Any write, of any key, makes every
// entry stale, so these caches serve read-mostly work and cost a mixed load a
// lookup that misses. The base of the caches of opened objects
// (object_cache.h) and of inodes (LocalGateway::load_inode).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/metrics.h"
#include "meta/store.h"

namespace kiseki::gateway {

template <typename V>
class GenerationCache {
 public:
  // `metric`: the counters kiseki_gateway_<metric>_hits_total and _misses_total.
  GenerationCache(const std::string& metric, const std::string& what, size_t max_per_shard)
      : max_per_shard_(max_per_shard),
        hits_(MetricsRegistry::global().counter("kiseki_gateway_" + metric + "_hits_total",
                                                what + " answered from the cache")),
        misses_(MetricsRegistry::global().counter("kiseki_gateway_" + metric + "_misses_total",
                                                  what + " that read the metadata store")) {}

  // The value kept for `k` at the present generation.
  std::optional<V> get(const std::string& k) const {
    Shard& s = shard_of(k);
    {
      std::lock_guard lock(s.mu);
      auto it = s.entries.find(k);
      if (it != s.entries.end()) {
        if (it->second.gen == meta::Store::generation()) {
          hits_->inc();
          return it->second.value;
        }
        s.entries.erase(it);
      }
    }
    misses_->inc();
    return std::nullopt;
  }
  // Keeps `v`, read from the stores at generation `gen` (read before the
  // reading began).
  void put(std::string k, uint64_t gen, const V& v) {
    if (gen != meta::Store::generation()) return;  // stale already
    Shard& s = shard_of(k);
    std::lock_guard lock(s.mu);
    // A bound, not an order of eviction: a full shard starts again (entries of
    // an older generation are dead weight by then anyway).
    if (s.entries.size() >= max_per_shard_) s.entries.clear();
    s.entries.insert_or_assign(std::move(k), Entry{gen, v});
  }
  void clear() {
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      s.entries.clear();
    }
  }
  // Entries held, stale ones included.
  size_t entries() const {
    size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.entries.size();
    }
    return n;
  }

 private:
  struct Entry {
    uint64_t gen;
    V value;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
  };
  Shard& shard_of(const std::string& k) const { return shards_[std::hash<std::string>{}(k) % shards_.size()]; }

  size_t max_per_shard_;
  mutable std::array<Shard, 16> shards_;
  Counter* hits_;
  Counter* misses_;
};

}  // namespace kiseki::gateway
