#include "tools/profile/histogram.h"

#include <algorithm>
#include <bit>

namespace kiseki::profile {

// Values below 2^kSubBits go to group 0 one per bucket; above, group g holds
// [2^(g+kSubBits-1), 2^(g+kSubBits)) in kSub/2 .. kSub-1 steps of 2^(g-1).
size_t Histogram::index(uint64_t v) {
  if (v < kSub) return v;
  int msb = 63 - std::countl_zero(v);
  int group = msb - kSubBits + 1;
  if (group >= kGroups) return kGroups * kSub - 1;
  uint64_t sub = v >> (group);  // in [kSub/2, kSub)
  return static_cast<size_t>(group) * kSub + static_cast<size_t>(sub);
}

uint64_t Histogram::upper(size_t i) {
  size_t group = i / kSub, sub = i % kSub;
  if (group == 0) return sub;
  return ((static_cast<uint64_t>(sub) + 1) << group) - 1;
}

void Histogram::record(uint64_t ns) {
  ++buckets_[index(ns)];
  ++count_;
  sum_ += ns;
  if (ns > max_) max_ = ns;
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  if (o.max_ > max_) max_ = o.max_;
}

uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * static_cast<double>(count_));
  if (want >= count_) want = count_ - 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen > want) return std::min(upper(i), max_);
  }
  return max_;
}

}  // namespace kiseki::profile
