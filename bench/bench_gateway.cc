// The in-process floor: Gateway put/get of 64 KiB objects under durability
// `sync` at 1 and 16 threads, and metadata create/lookup rates.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <optional>

#include "common/metrics.h"

#include "gateway/gateway.h"
#include "support/temp_dir.h"

using namespace kiseki;
using namespace kiseki::gateway;

namespace {

struct Env {
  kiseki::testing::TempDir dir;
  std::unique_ptr<Gateway> gw;
  NsRef ns;
  std::atomic<uint64_t> seq{0};
  Env() {
    GatewayOptions o;
    o.data_dir = dir.path();
    const char* d = std::getenv("KISEKI_BENCH_DURABILITY");
    if (d && parse_durability(d)) o.durability = *parse_durability(d);
    gw = std::move(*Gateway::open(o));
    TenantId t = *gw->create_tenant("bench");
    ns = *gw->create_namespace(t, "b");
  }
};

Env& env() {
  static Env e;
  return e;
}

// Group-commit figures over a run: records per WAL write, segment fsyncs and
// metadata point reads (by requests and by apply) per op.
struct CommitStats {
  MetricsRegistry& m = MetricsRegistry::global();
  Counter* records = m.counter("kiseki_log_records_total", "");
  Counter* groups = m.counter("kiseki_log_group_commits_total", "");
  Counter* fsyncs = m.counter("kiseki_chunk_segment_fsyncs_total", "");
  uint64_t r0 = records->value(), g0 = groups->value(), f0 = fsyncs->value();
  uint64_t reads0 = m.counter_total("kiseki_meta_reads_total");
  // The share of the time a log leader was in its turn (apply and write, the
  // made records' hashing included): near 1, the turns are what PUTs queue for.
  Histogram* turns = m.histogram("kiseki_log_commit_seconds", "");
  double turn0 = turns->sum();
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  void report(benchmark::State& state) {
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.counters["leader_busy"] = wall > 0 ? (turns->sum() - turn0) / wall : 0;
    double r = static_cast<double>(records->value() - r0), g = static_cast<double>(groups->value() - g0);
    state.counters["records_per_group"] = g > 0 ? r / g : 0;
    state.counters["segment_fsyncs_per_op"] = r > 0 ? static_cast<double>(fsyncs->value() - f0) / r : 0;
    state.counters["meta_reads_per_op"] =
        r > 0 ? static_cast<double>(m.counter_total("kiseki_meta_reads_total") - reads0) / r : 0;
  }
};

void BM_Put64K(benchmark::State& state) {
  auto& e = env();
  std::optional<CommitStats> stats;
  if (state.thread_index() == 0) stats.emplace();
  std::string data = kiseki::testing::random_bytes(64 << 10, 7 + state.thread_index());
  for (auto _ : state) {
    uint64_t n = e.seq.fetch_add(1);
    std::memcpy(data.data(), &n, sizeof(n));  // unique content: every put stores a chunk
    auto r = e.gw->put_object(e.ns, "put/" + std::to_string(n % 4096), source_from(as_bytes(data)), {});
    if (!r) state.SkipWithError(r.status().to_string().c_str());
  }
  if (stats) stats->report(state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (64 << 10));
}
BENCHMARK(BM_Put64K)->Threads(1)->Threads(16)->UseRealTime();

void BM_Get64K(benchmark::State& state) {
  auto& e = env();
  static std::once_flag once;
  std::call_once(once, [&] {
    for (int i = 0; i < 256; ++i)
      (void)e.gw->put_object(e.ns, "get/" + std::to_string(i),
                             source_from(as_bytes(kiseki::testing::random_bytes(64 << 10, 100 + i))), {});
  });
  size_t i = state.thread_index();
  for (auto _ : state) {
    auto r = e.gw->get_object(e.ns, "get/" + std::to_string(i++ % 256), {}, nullptr);
    if (!r || r->size() != (64 << 10)) state.SkipWithError("get failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (64 << 10));
}
BENCHMARK(BM_Get64K)->Threads(1)->Threads(16)->UseRealTime();

void BM_CreateEmpty(benchmark::State& state) {
  auto& e = env();
  static std::atomic<uint64_t> n{0};
  static InodeId dir = e.gw->mkdir(e.ns, ns::kRootInode, "meta", 0755, {})->ino;
  for (auto _ : state) {
    auto r = e.gw->create(e.ns, dir, "f" + std::to_string(n.fetch_add(1)), 0644, {}, true);
    if (!r) state.SkipWithError(r.status().to_string().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateEmpty)->Threads(1)->Threads(16)->UseRealTime();

void BM_Lookup(benchmark::State& state) {
  auto& e = env();
  static InodeId dir = e.gw->mkdir(e.ns, ns::kRootInode, "lookup", 0755, {})->ino;
  static std::once_flag once;
  std::call_once(once, [&] {
    for (int i = 0; i < 1000; ++i) (void)e.gw->create(e.ns, dir, "f" + std::to_string(i), 0644, {}, true);
  });
  size_t i = state.thread_index();
  for (auto _ : state) {
    auto r = e.gw->lookup(e.ns, dir, "f" + std::to_string(i++ % 1000));
    if (!r) state.SkipWithError("lookup failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lookup)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
