// Runs one workload shape against a driver: N workers, each with its own
// session, for a fixed time after a warm-up; latency in a log-linear histogram.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tools/profile/driver.h"
#include "tools/profile/histogram.h"

namespace kiseki::profile {

enum class Shape { kPutHeavy, kGetHeavy, kMixed, kCreateEmpty, kStat, kList };
Result<Shape> parse_shape(std::string_view s);
std::string_view shape_name(Shape s);

struct RunOptions {
  Shape shape = Shape::kPutHeavy;
  uint64_t size = 64 << 10;
  int concurrency = 16;
  double duration_s = 30;
  int warmup = 256;        // objects written before the timed phase
  bool zipf = false;       // key distribution: uniform or zipf(0.99)
  int keyspace = 4096;     // distinct keys written by put shapes
  int list_entries = 100;  // entries of the directory the list shape reads
  std::vector<int> server_pids;  // to measure the server's CPU time too (all its processes)
};

struct RunResult {
  std::string driver;
  Shape shape = Shape::kPutHeavy;
  RunOptions opts;
  uint64_t ops = 0;        // successful timed operations
  uint64_t bytes = 0;      // payload bytes moved by them
  double seconds = 0;
  Histogram latency;
  std::map<std::string, uint64_t> errors;  // by kind
  // Requests sent in all, warm-up included, by kind: for checks against a server's counters.
  std::map<std::string, uint64_t> sent;
  double harness_cpu_s = 0;
  double server_cpu_s = -1;  // -1: not measured
  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
  double mib_per_sec() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / (1 << 20) : 0; }
};

Result<RunResult> run_shape(Driver& driver, const RunOptions& opts);

// CPU seconds (user + system) of processes, from /proc/PID/stat; -1 if unknown.
double process_cpu_seconds(int pid);
double processes_cpu_seconds(const std::vector<int>& pids);

}  // namespace kiseki::profile
