// Chunker throughput over random data.
#include <benchmark/benchmark.h>

#include "chunk/chunker.h"
#include "support/temp_dir.h"

using namespace kiseki;

static void run(benchmark::State& state, const chunk::Chunker& c) {
  static const std::string data = kiseki::testing::random_bytes(64 << 20, 1);
  size_t chunks = 0;
  for (auto _ : state) {
    std::vector<size_t> lens;
    c.split(as_bytes(data), &lens);
    chunks = lens.size();
    benchmark::DoNotOptimize(lens.data());
  }
  state.counters["chunks"] = static_cast<double>(chunks);
  state.SetBytesProcessed(state.iterations() * data.size());
}

static void BM_FastCdc(benchmark::State& state) { run(state, chunk::FastCdcChunker(16 << 10, 64 << 10, 256 << 10)); }
static void BM_Fixed(benchmark::State& state) { run(state, chunk::FixedChunker(64 << 10)); }
BENCHMARK(BM_FastCdc)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fixed)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
