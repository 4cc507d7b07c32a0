// The console's history: rates and latency quantiles between two snapshots of
// the metrics registry.
#include "server/stats_history.h"

#include <gtest/gtest.h>

namespace kiseki::server {
namespace {

TEST(QuantileBetween, BucketOfTheRankAmongNewObservations) {
  std::vector<double> bounds = {0.001, 0.01, 0.1};
  std::vector<uint64_t> before = {5, 0, 0, 0};   // old observations do not count
  std::vector<uint64_t> after = {5 + 98, 1, 1, 0};
  EXPECT_DOUBLE_EQ(quantile_between(bounds, before, after, 0.50), 0.001);
  EXPECT_DOUBLE_EQ(quantile_between(bounds, before, after, 0.99), 0.01);
  EXPECT_DOUBLE_EQ(quantile_between(bounds, before, after, 1.0), 0.1);
  EXPECT_EQ(quantile_between(bounds, after, after, 0.5), 0) << "no new observations";
  EXPECT_EQ(quantile_between(bounds, {}, {1, 2}, 0.5), 0) << "a histogram with other bounds";
  EXPECT_DOUBLE_EQ(quantile_between(bounds, {}, {0, 0, 0, 4}, 0.5), 0.2) << "+Inf: twice the last bound";
}

TEST(StatsHistory, RatesFromTheRegistryAndABoundedWindow) {
  MetricsRegistry reg;
  Counter* ops = reg.counter("kiseki_s3_requests_total", "", {{"op", "GetObject"}});
  Counter* ops2 = reg.counter("kiseki_s3_requests_total", "", {{"op", "PutObject"}});
  Histogram* lat = reg.histogram("kiseki_s3_request_seconds", "", {{"op", "GetObject"}});
  Counter* nfs_in = reg.counter("kiseki_nfs_write_bytes_total", "");
  StatsHistory h(&reg, 1000, 3);
  ops->inc(30);
  ops2->inc(10);
  for (int i = 0; i < 40; ++i) lat->observe(0.0002);
  nfs_in->inc(1 << 20);
  h.sample_now();
  auto s = h.samples();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_GT(s[0].s3.ops_per_s, 0);
  EXPECT_GT(s[0].nfs.bytes_in_per_s, 0);
  EXPECT_EQ(s[0].nfs.ops_per_s, 0);
  EXPECT_GT(s[0].s3.p50_ms, 0.1);
  EXPECT_LE(s[0].s3.p99_ms, 0.4);
  for (int i = 0; i < 5; ++i) h.sample_now();
  s = h.samples();
  EXPECT_EQ(s.size(), 3u) << "only the last `keep` samples";
  EXPECT_EQ(s.back().s3.ops_per_s, 0) << "nothing happened since";
  EXPECT_EQ(s.back().s3.p99_ms, 0);
}

}  // namespace
}  // namespace kiseki::server
