#include "common/metrics.h"

#include <gtest/gtest.h>

namespace kiseki {

TEST(Metrics, PrometheusExposition) {
  MetricsRegistry r;
  r.counter("kiseki_ops_total", "Ops", {{"op", "put"}})->inc(3);
  r.counter("kiseki_ops_total", "Ops", {{"op", "put"}})->inc();  // same series
  r.counter("kiseki_ops_total", "Ops", {{"op", "get"}})->inc(2);
  r.gauge("kiseki_open", "Open")->set(-4);
  auto* h = r.histogram("kiseki_lat_seconds", "Latency", {}, {0.001, 0.01});
  h->observe(0.0005);
  h->observe(0.005);
  h->observe(5);
  std::string text = r.expose();
  EXPECT_NE(text.find("# TYPE kiseki_ops_total counter"), std::string::npos);
  EXPECT_NE(text.find("kiseki_ops_total{op=\"put\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_ops_total{op=\"get\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_open -4\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_lat_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_lat_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("kiseki_lat_seconds_count 3\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsRegistry r;
  r.counter("c", "h", {{"k", "a\"b\\c"}})->inc();
  EXPECT_NE(r.expose().find("c{k=\"a\\\"b\\\\c\"} 1"), std::string::npos);
}

TEST(MetricsRegistry, TotalsOverLabelSets) {
  MetricsRegistry reg;
  reg.counter("c", "", {{"a", "1"}})->inc(2);
  reg.counter("c", "", {{"a", "2"}})->inc(3);
  EXPECT_EQ(reg.counter_total("c"), 5u);
  EXPECT_EQ(reg.counter_total("missing"), 0u);
  reg.histogram("h", "", {{"a", "1"}}, {1.0, 2.0})->observe(0.5);
  reg.histogram("h", "", {{"a", "2"}}, {1.0, 2.0})->observe(5);
  std::vector<double> bounds;
  auto counts = reg.histogram_total("h", &bounds);
  EXPECT_EQ(bounds, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(counts, (std::vector<uint64_t>{1, 0, 1}));
}

}  // namespace kiseki
