#include "gateway/object_cache.h"

#include "gateway/content.h"
#include "meta/schema.h"

namespace kiseki::gateway {

ObjectCache::ObjectCache()
    : cache_("object_cache", "Object opens by key", kMaxEntriesPerShard) {}

std::string ObjectCache::key_of(NsRef ns, std::string_view key) {
  std::string k = meta::key_u64_u64(ns.tenant, ns.ns);
  k.append(key);
  return k;
}

std::optional<ObjectHandle> ObjectCache::get(NsRef ns, std::string_view key) const {
  return cache_.get(key_of(ns, key));
}

void ObjectCache::put(NsRef ns, std::string_view key, uint64_t gen, const ObjectHandle& h) {
  if (!h.content || h.content->extents.size() > kMaxExtents) return;
  cache_.put(key_of(ns, key), gen, h);
}

void ObjectCache::clear() { cache_.clear(); }

size_t ObjectCache::entries() const { return cache_.entries(); }

}  // namespace kiseki::gateway
