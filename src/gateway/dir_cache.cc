#include "gateway/dir_cache.h"

#include <algorithm>

#include "meta/schema.h"
#include "meta/store.h"

namespace kiseki::gateway {

DirCache::DirCache()
    : hits_(MetricsRegistry::global().counter("kiseki_gateway_dir_cache_hits_total",
                                              "Directory listing batches answered from the cache of listings")),
      misses_(MetricsRegistry::global().counter("kiseki_gateway_dir_cache_misses_total",
                                                "Directory listing batches that read the metadata store")) {}

std::string DirCache::key_of(NsRef ns, InodeId dir) {
  return meta::key_u64_u64(ns.tenant, ns.ns) + meta::key_u64(dir);
}

bool DirCache::get(NsRef ns, InodeId dir, uint64_t cookie, size_t max, std::vector<DirEntryPlus>* out) const {
  out->clear();
  std::lock_guard lock(mu_);
  auto found = gen_ == meta::Store::generation() ? listings_.find(key_of(ns, dir)) : listings_.end();
  if (found != listings_.end()) {
    const Listing& runs = found->second;
    // The run that holds `cookie`: the one that follows it, or one with an
    // entry of that cookie (the client's last entry of an earlier reply).
    auto it = runs.upper_bound(cookie);
    size_t i = 0;
    if (it != runs.begin()) {
      --it;
      if (it->first != cookie) {
        const auto& es = it->second.entries;
        auto e = std::lower_bound(es.begin(), es.end(), cookie,
                                  [](const DirEntryPlus& d, uint64_t c) { return d.entry.cookie < c; });
        it = e != es.end() && e->entry.cookie == cookie ? it : runs.end();
        i = static_cast<size_t>(e - es.begin()) + 1;
      }
      while (it != runs.end()) {
        const Run& r = it->second;
        size_t n = std::min(max - out->size(), r.entries.size() - i);
        out->insert(out->end(), r.entries.begin() + i, r.entries.begin() + i + n);
        if (out->size() == max || r.to_end) {
          hits_->inc();
          return true;
        }
        // On into the run that follows this one's last entry, if one is kept.
        it = r.entries.empty() ? runs.end() : runs.find(r.entries.back().entry.cookie);
        i = 0;
      }
    }
  }
  out->clear();
  misses_->inc();
  return false;
}

void DirCache::put(NsRef ns, InodeId dir, uint64_t cookie, uint64_t gen, const std::vector<DirEntryPlus>& entries,
                   bool to_end) {
  if (entries.size() > kMaxEntries) return;
  std::lock_guard lock(mu_);
  if (gen != meta::Store::generation()) return;  // stale already
  if (gen != gen_ || entries_ + entries.size() > kMaxEntries) {
    listings_.clear();
    entries_ = 0;
    gen_ = gen;
  }
  Run& r = listings_[key_of(ns, dir)][cookie];
  entries_ -= r.entries.size();
  r.entries = entries;
  r.to_end = to_end;
  entries_ += r.entries.size();
}

bool DirCache::current() const {
  std::lock_guard lock(mu_);
  return gen_ == meta::Store::generation();
}

void DirCache::clear() {
  std::lock_guard lock(mu_);
  listings_.clear();
  entries_ = 0;
}

size_t DirCache::entries() const {
  std::lock_guard lock(mu_);
  return entries_;
}

}  // namespace kiseki::gateway
