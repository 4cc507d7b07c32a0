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

}  // namespace kiseki
