#include "server/stats_history.h"

#include <chrono>

namespace kiseki::server {

double quantile_between(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                        const std::vector<uint64_t>& after, double q) {
  if (bounds.empty() || after.size() != bounds.size() + 1) return 0;
  std::vector<uint64_t> d(after.size());
  uint64_t total = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    uint64_t b = i < before.size() ? before[i] : 0;
    d[i] = after[i] >= b ? after[i] - b : 0;
    total += d[i];
  }
  if (total == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.5);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    seen += d[i];
    if (seen >= rank) return i < bounds.size() ? bounds[i] : bounds.back() * 2;
  }
  return bounds.back() * 2;
}

StatsHistory::StatsHistory(const MetricsRegistry* registry, int interval_ms, size_t keep)
    : reg_(registry), interval_ms_(interval_ms), keep_(keep) {
  last_ = take();
}

StatsHistory::~StatsHistory() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsHistory::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; })) {
      lock.unlock();
      sample_now();
      if (hook_) hook_();
      lock.lock();
    }
  });
}

StatsHistory::Snapshot StatsHistory::take() const {
  Snapshot s;
  s.mono_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now().time_since_epoch()).count();
  auto totals = [this](const char* ops, const char* in, const char* out, const char* latency) {
    Totals t{reg_->counter_total(ops), reg_->counter_total(in), reg_->counter_total(out), {}, {}};
    t.latency = reg_->histogram_total(latency, &t.bounds);
    return t;
  };
  s.s3 = totals("kiseki_s3_requests_total", "kiseki_s3_bytes_in_total", "kiseki_s3_bytes_out_total",
                "kiseki_s3_request_seconds");
  s.nfs = totals("kiseki_nfs_requests_total", "kiseki_nfs_write_bytes_total", "kiseki_nfs_read_bytes_total",
                 "kiseki_nfs_request_seconds");
  return s;
}

void StatsHistory::sample_now() {
  Snapshot now = take();
  std::lock_guard lock(mu_);
  double secs = static_cast<double>(now.mono_ns - last_.mono_ns) / 1e9;
  if (secs <= 0) return;
  auto rate = [secs](uint64_t a, uint64_t b) { return b >= a ? static_cast<double>(b - a) / secs : 0.0; };
  auto fill = [&](const Totals& a, const Totals& b) {
    ProtocolSample p;
    p.ops_per_s = rate(a.ops, b.ops);
    p.bytes_in_per_s = rate(a.in, b.in);
    p.bytes_out_per_s = rate(a.out, b.out);
    p.p50_ms = quantile_between(b.bounds, a.latency, b.latency, 0.50) * 1e3;
    p.p99_ms = quantile_between(b.bounds, a.latency, b.latency, 0.99) * 1e3;
    return p;
  };
  StatsSample s;
  s.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  s.s3 = fill(last_.s3, now.s3);
  s.nfs = fill(last_.nfs, now.nfs);
  last_ = std::move(now);
  samples_.push_back(s);
  while (samples_.size() > keep_) samples_.pop_front();
}

std::vector<StatsSample> StatsHistory::samples() const {
  std::lock_guard lock(mu_);
  return {samples_.begin(), samples_.end()};
}

}  // namespace kiseki::server
