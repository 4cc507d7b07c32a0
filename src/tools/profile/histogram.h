// A log-linear latency histogram in the manner of HdrHistogram: fixed memory,
// O(1) record, ~0.8 % relative precision (128 sub-buckets per power of two),
// values from 1 ns to ~1 hour.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kiseki::profile {

class Histogram {
 public:
  void record(uint64_t ns);
  void merge(const Histogram& o);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }
  // q in [0, 1]; returns the upper edge of the bucket holding that quantile.
  uint64_t quantile(double q) const;

 private:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kGroups = 43;  // 2^42 ns ≈ 73 min
  static size_t index(uint64_t v);
  static uint64_t upper(size_t i);
  std::array<uint64_t, kGroups * kSub> buckets_{};
  uint64_t count_ = 0, sum_ = 0, max_ = 0;
};

}  // namespace kiseki::profile
