// The last minutes of the server's own metrics, sampled at a fixed interval:
// operations, bytes and latency per protocol, for the web console.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace kiseki::server {

struct ProtocolSample {
  double ops_per_s = 0;
  double bytes_in_per_s = 0;
  double bytes_out_per_s = 0;
  double p50_ms = 0, p99_ms = 0;  // over the interval; 0 without operations
};

struct StatsSample {
  int64_t unix_ms = 0;
  ProtocolSample s3, nfs;
};

// Latency quantile `q` of the observations between two histogram snapshots (the
// upper bound of the bucket it falls in, in seconds; 0 if there are none).
double quantile_between(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                        const std::vector<uint64_t>& after, double q);

class StatsHistory {
 public:
  StatsHistory(const MetricsRegistry* registry, int interval_ms, size_t keep);
  ~StatsHistory();
  // Called on the sampling thread after each sample (gauges that need a system
  // call, such as the disk's free space).
  void on_sample(std::function<void()> f) { hook_ = std::move(f); }
  void start();  // a sampling thread, stopped by the destructor
  void sample_now();
  std::vector<StatsSample> samples() const;
  int interval_ms() const { return interval_ms_; }

 private:
  struct Totals {
    uint64_t ops = 0, in = 0, out = 0;
    std::vector<uint64_t> latency;
    std::vector<double> bounds;
  };
  struct Snapshot {
    int64_t mono_ns = 0;
    Totals s3, nfs;
  };
  Snapshot take() const;
  const MetricsRegistry* reg_;
  const int interval_ms_;
  const size_t keep_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Snapshot last_;
  std::deque<StatsSample> samples_;
  std::function<void()> hook_;
  std::thread thread_;
};

}  // namespace kiseki::server
