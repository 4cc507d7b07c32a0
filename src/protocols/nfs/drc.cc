#include "protocols/nfs/drc.h"

namespace kiseki::nfs {

DuplicateRequestCache::DuplicateRequestCache(size_t capacity) : capacity_(capacity) {
  hits_ = MetricsRegistry::global().counter("kiseki_nfs_drc_hits_total",
                                            "Resent non-idempotent NFS calls answered from the duplicate request cache");
}

DuplicateRequestCache::State DuplicateRequestCache::begin(const DrcKey& k, std::string* reply) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(k);
  if (it != entries_.end()) {
    hits_->inc();
    if (!it->second.done) return State::kInProgress;
    *reply = it->second.reply;
    return State::kReplay;
  }
  while (entries_.size() >= capacity_ && !lru_.empty()) {
    auto old = entries_.find(lru_.front());
    if (old != entries_.end() && !old->second.done) break;  // never evict a running call
    if (old != entries_.end()) entries_.erase(old);
    lru_.pop_front();
  }
  lru_.push_back(k);
  entries_.emplace(k, Entry{false, {}, std::prev(lru_.end())});
  return State::kNew;
}

void DuplicateRequestCache::finish(const DrcKey& k, const std::string& reply) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.reply = reply;
  lru_.splice(lru_.end(), lru_, it->second.lru);  // now the newest
}

void DuplicateRequestCache::abandon(const DrcKey& k) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(k);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

}  // namespace kiseki::nfs
