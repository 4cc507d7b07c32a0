// Metrics registry with Prometheus text exposition. Metrics are created once
// (registration takes a lock) and updated lock-free on the hot path.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kiseki {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed upper bounds (seconds for latencies); observe() is two relaxed atomics.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

  // 50 µs .. ~3.3 s in powers of two: the default for operation latencies.
  static std::vector<double> latency_bounds();

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};  // sum scaled by 1e9 to stay integral
};

class MetricsRegistry {
 public:
  Counter* counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* histogram(const std::string& name, const std::string& help,
                       const Labels& labels = {},
                       std::vector<double> bounds = Histogram::latency_bounds());

  // Prometheus text format 0.0.4.
  std::string expose() const;

  // A family's metrics added up over every label set (0 / empty if unknown):
  // what the console's history samples.
  uint64_t counter_total(const std::string& name) const;
  // Bucket counts (one per bound, plus +Inf) summed over the family's label sets.
  std::vector<uint64_t> histogram_total(const std::string& name, std::vector<double>* bounds) const;

  // The process-wide registry that the server exposes on /metrics.
  static MetricsRegistry& global();

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    // Keyed by the rendered label set, so equal labels share one metric.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(const std::string& name, Kind kind, const std::string& help);

  mutable std::mutex mu_;  // guards families_ (not the metric values)
  std::map<std::string, Family> families_;
};

}  // namespace kiseki
