#include "gateway/object_cache.h"

#include "gateway/content.h"
#include "meta/schema.h"
#include "meta/store.h"

namespace kiseki::gateway {

ObjectCache::ObjectCache()
    : hits_(MetricsRegistry::global().counter("kiseki_gateway_object_cache_hits_total",
                                              "Object opens by key answered from the cache of opened objects")),
      misses_(MetricsRegistry::global().counter("kiseki_gateway_object_cache_misses_total",
                                                "Object opens by key that read the metadata store")) {}

std::string ObjectCache::key_of(NsRef ns, std::string_view key) {
  std::string k = meta::key_u64_u64(ns.tenant, ns.ns);
  k.append(key);
  return k;
}

std::optional<ObjectHandle> ObjectCache::get(NsRef ns, std::string_view key) const {
  std::string k = key_of(ns, key);
  Shard& s = shard_of(k);
  {
    std::lock_guard lock(s.mu);
    auto it = s.entries.find(k);
    if (it != s.entries.end()) {
      if (it->second.gen == meta::Store::generation()) {
        hits_->inc();
        return it->second.handle;
      }
      s.entries.erase(it);
    }
  }
  misses_->inc();
  return std::nullopt;
}

void ObjectCache::put(NsRef ns, std::string_view key, uint64_t gen, const ObjectHandle& h) {
  if (!h.content || h.content->extents.size() > kMaxExtents) return;
  if (gen != meta::Store::generation()) return;  // stale already
  std::string k = key_of(ns, key);
  Shard& s = shard_of(k);
  std::lock_guard lock(s.mu);
  // A bound, not an order of eviction: a full shard starts again (entries of
  // an older generation are dead weight by then anyway).
  if (s.entries.size() >= kMaxEntriesPerShard) s.entries.clear();
  s.entries.insert_or_assign(std::move(k), Entry{gen, h});
}

void ObjectCache::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    s.entries.clear();
  }
}

size_t ObjectCache::entries() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace kiseki::gateway
