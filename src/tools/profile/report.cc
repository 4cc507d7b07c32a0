#include "tools/profile/report.h"

#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <map>

namespace kiseki::profile {

namespace json = boost::json;

static double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string to_json(const RunResult& r) {
  json::object lat{{"p50", us(r.latency.quantile(0.50))}, {"p90", us(r.latency.quantile(0.90))},
                   {"p99", us(r.latency.quantile(0.99))}, {"p999", us(r.latency.quantile(0.999))},
                   {"max", us(r.latency.max())}, {"mean", r.latency.mean() / 1000.0}};
  json::object errors, sent;
  uint64_t nerr = 0;
  for (const auto& [k, v] : r.errors) {
    errors[k] = v;
    nerr += v;
  }
  for (const auto& [k, v] : r.sent) sent[k] = v;
  double ops = static_cast<double>(r.ops);
  json::object cpu{{"harness_seconds", r.harness_cpu_s},
                   {"harness_us_per_op", ops > 0 ? r.harness_cpu_s / ops * 1e6 : 0.0}};
  if (r.server_cpu_s >= 0) {
    cpu["server_seconds"] = r.server_cpu_s;
    cpu["server_us_per_op"] = ops > 0 ? r.server_cpu_s / ops * 1e6 : 0.0;
  }
  json::object o{{"driver", r.driver},
                 {"shape", std::string(shape_name(r.shape))},
                 {"size_bytes", r.opts.size},
                 {"concurrency", r.opts.concurrency},
                 {"duration_seconds", r.seconds},
                 {"key_distribution", r.opts.zipf ? "zipf" : "uniform"},
                 {"ops", r.ops},
                 {"ops_per_sec", r.ops_per_sec()},
                 {"mib_per_sec", r.mib_per_sec()},
                 {"latency_us", lat},
                 {"errors", errors},
                 {"error_count", nerr},
                 {"requests_sent", sent},
                 {"cpu", cpu}};
  return json::serialize(o) + "\n";
}

std::string table_header() {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-10s %-19s %10s %9s %9s %9s %9s %9s %7s %10s %10s\n", "driver", "shape", "op/s",
                "MiB/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "errors", "cli µs/op", "srv µs/op");
  return buf;
}

std::string table_row(const RunResult& r) {
  uint64_t nerr = 0;
  for (const auto& [k, v] : r.errors) nerr += v;
  double ops = static_cast<double>(r.ops);
  char srv[32] = "-";
  if (r.server_cpu_s >= 0 && ops > 0) std::snprintf(srv, sizeof(srv), "%.0f", r.server_cpu_s / ops * 1e6);
  char buf[320];
  std::snprintf(buf, sizeof(buf), "%-10s %-19s %10.0f %9.1f %9.0f %9.0f %9.0f %9.0f %7llu %10.0f %10s\n",
                r.driver.c_str(), std::string(shape_name(r.shape)).c_str(), r.ops_per_sec(), r.mib_per_sec(),
                us(r.latency.quantile(0.5)), us(r.latency.quantile(0.9)), us(r.latency.quantile(0.99)),
                us(r.latency.quantile(0.999)), static_cast<unsigned long long>(nerr), ops > 0 ? r.harness_cpu_s / ops * 1e6 : 0,
                srv);
  return buf;
}

static std::string with_thousands(double v) {
  std::string s = std::to_string(static_cast<long long>(v + 0.5));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), " ");
  return s;
}

std::string matrix_tables(const std::vector<RunResult>& runs) {
  std::vector<std::string> drivers;
  std::vector<Shape> shapes;
  std::map<std::pair<std::string, Shape>, const RunResult*> cell;
  for (const auto& r : runs) {
    if (std::find(drivers.begin(), drivers.end(), r.driver) == drivers.end()) drivers.push_back(r.driver);
    if (std::find(shapes.begin(), shapes.end(), r.shape) == shapes.end()) shapes.push_back(r.shape);
    cell[{r.driver, r.shape}] = &r;
  }
  // One markdown table: a row per driver, a column per shape, `fmt` for a cell.
  auto table = [&](const std::string& title, const std::function<std::string(const RunResult&)>& fmt) {
    std::string out = title + "\n\n| Protocol |";
    for (Shape s : shapes) out += " " + std::string(shape_name(s)) + " |";
    out += "\n|---|";
    for (size_t i = 0; i < shapes.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& d : drivers) {
      out += "| " + d + " |";
      for (Shape s : shapes) {
        auto it = cell.find({d, s});
        out += " " + (it == cell.end() ? std::string("-") : fmt(*it->second)) + " |";
      }
      out += "\n";
    }
    return out;
  };
  return table("Throughput",
               [](const RunResult& r) {
                 return with_thousands(r.ops_per_sec()) + " op/s · " + with_thousands(r.mib_per_sec()) + " MiB/s";
               }) +
         "\n" +
         table("Tail latency p99 (µs)", [](const RunResult& r) { return with_thousands(us(r.latency.quantile(0.99))); });
}

}  // namespace kiseki::profile
