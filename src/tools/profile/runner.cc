#include "tools/profile/runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace kiseki::profile {

Result<Shape> parse_shape(std::string_view s) {
  if (s == "put-heavy") return Shape::kPutHeavy;
  if (s == "get-heavy") return Shape::kGetHeavy;
  if (s == "mixed") return Shape::kMixed;
  if (s == "create-empty-files") return Shape::kCreateEmpty;
  if (s == "stat") return Shape::kStat;
  if (s == "list") return Shape::kList;
  return invalid_argument("unknown shape '" + std::string(s) +
                          "' (put-heavy, get-heavy, mixed, create-empty-files, stat, list)");
}

std::string_view shape_name(Shape s) {
  switch (s) {
    case Shape::kPutHeavy: return "put-heavy";
    case Shape::kGetHeavy: return "get-heavy";
    case Shape::kMixed: return "mixed";
    case Shape::kCreateEmpty: return "create-empty-files";
    case Shape::kStat: return "stat";
    case Shape::kList: return "list";
  }
  return "?";
}

double process_cpu_seconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  auto close = line.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double processes_cpu_seconds(const std::vector<int>& pids) {
  if (pids.empty()) return -1;
  double sum = 0;
  for (int p : pids) {
    double c = process_cpu_seconds(p);
    if (c < 0) return -1;
    sum += c;
  }
  return sum;
}

namespace {

double self_cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Picks key indexes uniformly or by zipf(0.99) over [0, n).
class KeyPicker {
 public:
  KeyPicker(int n, bool zipf, uint64_t seed) : n_(n), rng_(seed) {
    if (!zipf) return;
    cdf_.resize(static_cast<size_t>(n));
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf_[static_cast<size_t>(i)] = (sum += 1.0 / std::pow(i + 1, 0.99));
    for (auto& c : cdf_) c /= sum;
  }
  int next() {
    if (cdf_.empty()) return static_cast<int>(rng_() % static_cast<uint64_t>(n_));
    double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }
  uint64_t raw() { return rng_(); }

 private:
  int n_;
  std::mt19937_64 rng_;
  std::vector<double> cdf_;
};

std::string error_kind(const Status& st) {
  std::string m = st.message();
  auto space = m.find(' ');
  // Driver messages are "<OP> <S3 code or errno text>": keep the code.
  return space == std::string::npos ? std::string(error_code_name(st.code())) : m.substr(space + 1, 40);
}

}  // namespace

Result<RunResult> run_shape(Driver& driver, const RunOptions& o) {
  if (o.concurrency < 1 || o.concurrency > 4096) return invalid_argument("concurrency must be 1..4096");
  if (o.duration_s <= 0) return invalid_argument("duration must be positive");
  RunResult res;
  res.driver = driver.name();
  res.shape = o.shape;
  res.opts = o;
  std::mutex mu;  // guards res while workers merge
  auto count_sent = [&](const char* kind, uint64_t n) {
    std::lock_guard lock(mu);
    res.sent[kind] += n;
  };

  // Warm-up: objects to read (get-heavy, mixed, stat) or entries to list.
  int warm = o.shape == Shape::kList ? o.list_entries : o.warmup;
  bool needs_warm = o.shape == Shape::kGetHeavy || o.shape == Shape::kMixed || o.shape == Shape::kStat ||
                    o.shape == Shape::kList;
  if (needs_warm && warm > 0) {
    Bytes data(o.shape == Shape::kList ? 0 : o.size);
    std::mt19937_64 rng(42);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::string first_error;
    std::vector<std::thread> ws;
    for (int w = 0; w < 8; ++w)  // warm-up is not measured: use enough writers
      ws.emplace_back([&] {
        auto s = driver.session();
        if (!s) {
          failed = true;
          return;
        }
        for (int i; (i = next.fetch_add(1)) < warm && !failed;) {
          std::string key = (o.shape == Shape::kList ? "list/e" : "warm/k") + std::to_string(i);
          Status st = (*s)->put(key, data);
          count_sent("put", 1);
          if (!st) {
            std::lock_guard lock(mu);
            first_error = st.to_string();
            failed = true;
          }
        }
      });
    for (auto& t : ws) t.join();
    if (failed) return io_error("warm-up failed: " + first_error);
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  std::vector<Histogram> hists(static_cast<size_t>(o.concurrency));
  std::vector<uint64_t> ops(hists.size()), bytes(hists.size());
  std::vector<std::map<std::string, uint64_t>> errs(hists.size()), sent(hists.size());
  std::atomic<int> ready{0};
  std::once_flag first_failure;
  Status session_error;  // the first worker's reason a session failed, set once
  double cpu0 = self_cpu_seconds(), srv0 = processes_cpu_seconds(o.server_pids);
  auto t0 = std::chrono::steady_clock::now();
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&, w] {
      auto session = driver.session();
      ready.fetch_add(1);
      if (!session) {
        std::call_once(first_failure, [&] { session_error = session.status(); });
        return;
      }
      Session& s = **session;
      KeyPicker pick(o.shape == Shape::kPutHeavy || o.shape == Shape::kMixed ? std::max(1, o.keyspace / o.concurrency)
                                                                             : std::max(1, warm),
                     o.zipf, 1000 + static_cast<uint64_t>(w));
      Bytes data(o.size);
      for (auto& b : data) b = static_cast<uint8_t>(pick.raw());
      uint64_t n = 0;
      auto& h = hists[static_cast<size_t>(w)];
      while (!stop.load(std::memory_order_relaxed)) {
        bool do_put = o.shape == Shape::kPutHeavy || o.shape == Shape::kCreateEmpty ||
                      (o.shape == Shape::kMixed && pick.raw() % 10 < 7);
        auto a = std::chrono::steady_clock::now();
        Status st;
        uint64_t moved = 0;
        const char* kind;
        if (o.shape == Shape::kCreateEmpty) {
          kind = "put";
          st = s.put("empty/w" + std::to_string(w) + "-" + std::to_string(n), {});
        } else if (do_put) {
          kind = "put";
          uint64_t tag = (static_cast<uint64_t>(w) << 40) | n;  // unique content: no dedup hits
          std::memcpy(data.data(), &tag, std::min<size_t>(8, data.size()));
          st = s.put("put/w" + std::to_string(w) + "/k" + std::to_string(pick.next()), data);
          moved = data.size();
        } else if (o.shape == Shape::kStat) {
          kind = "head";
          st = s.stat("warm/k" + std::to_string(pick.next()));
        } else if (o.shape == Shape::kList) {
          kind = "list";
          auto r = s.list("list/");
          st = r.status();
          if (r && *r != static_cast<size_t>(o.list_entries)) st = make_error(ErrorCode::kCorruption, "LIST wrong-count");
        } else {
          kind = "get";
          auto r = s.get("warm/k" + std::to_string(pick.next()));
          st = r.status();
          if (r) moved = *r;
          if (r && *r != o.size) st = make_error(ErrorCode::kCorruption, "GET short-read");
        }
        auto b = std::chrono::steady_clock::now();
        ++sent[static_cast<size_t>(w)][kind];
        ++n;
        if (!st) {
          ++errs[static_cast<size_t>(w)][error_kind(st)];
          continue;
        }
        h.record(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()));
        ++ops[static_cast<size_t>(w)];
        bytes[static_cast<size_t>(w)] += moved;
      }
    });
  }
  auto deadline = t0 + std::chrono::duration<double>(o.duration_s);
  std::this_thread::sleep_until(deadline);
  stop = true;
  for (auto& t : workers) t.join();
  auto t1 = std::chrono::steady_clock::now();
  if (!session_error.is_ok())
    return make_error(ErrorCode::kUnavailable, "a worker could not open a session: " + session_error.to_string());
  res.seconds = std::chrono::duration<double>(t1 - t0).count();
  res.harness_cpu_s = self_cpu_seconds() - cpu0;
  if (srv0 >= 0) res.server_cpu_s = processes_cpu_seconds(o.server_pids) - srv0;
  for (size_t w = 0; w < hists.size(); ++w) {
    res.latency.merge(hists[w]);
    res.ops += ops[w];
    res.bytes += bytes[w];
    for (const auto& [k, v] : errs[w]) res.errors[k] += v;
    for (const auto& [k, v] : sent[w]) res.sent[k] += v;
  }
  return res;
}

}  // namespace kiseki::profile
