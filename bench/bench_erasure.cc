// Reed–Solomon with ISA-L per core (docs/performance.md, "Erasure coding"):
// encoding a sealed chunk into K+M fragment records (with their CRCs) and
// decoding it back with M fragments lost (the worst case: data fragments
// gone), for 4+2 and 8+3, beside memcpy of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>

#include "cluster/erasure.h"
#include "support/temp_dir.h"

using namespace kiseki;

namespace {

void BM_Memcpy(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::string src = kiseki::testing::random_bytes(n, 1), dst(n, '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_Memcpy)->Arg(64 << 10)->Arg(1 << 20);

void BM_Encode(benchmark::State& state) {
  auto code = *cluster::ErasureCode::get(static_cast<uint32_t>(state.range(1)), static_cast<uint32_t>(state.range(2)));
  const size_t n = static_cast<size_t>(state.range(0));
  std::string sealed = kiseki::testing::random_bytes(n, 2);
  for (auto _ : state) benchmark::DoNotOptimize(code->encode(sealed));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_Encode)->Args({64 << 10, 4, 2})->Args({1 << 20, 4, 2})->Args({64 << 10, 8, 3})->Args({1 << 20, 8, 3});

// The raw kernel (no fragment records, no CRC): what ISA-L itself does.
void BM_EncodeRaw(benchmark::State& state) {
  const uint32_t k = static_cast<uint32_t>(state.range(1)), m = static_cast<uint32_t>(state.range(2));
  auto code = *cluster::ErasureCode::get(k, m);
  const size_t len = code->fragment_size(static_cast<size_t>(state.range(0)));
  std::vector<std::string> bufs(k + m, std::string(len, '\0'));
  std::vector<uint8_t*> p;
  for (uint32_t i = 0; i < k + m; ++i) {
    if (i < k) bufs[i] = kiseki::testing::random_bytes(len, i);
    p.push_back(reinterpret_cast<uint8_t*>(bufs[i].data()));
  }
  for (auto _ : state) {
    code->encode_raw(len, p.data(), p.data() + k);
    benchmark::DoNotOptimize(p[k]);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(len * k));
}
BENCHMARK(BM_EncodeRaw)->Args({64 << 10, 4, 2})->Args({1 << 20, 4, 2})->Args({64 << 10, 8, 3})->Args({1 << 20, 8, 3});

void BM_DecodeLosingM(benchmark::State& state) {
  const uint32_t k = static_cast<uint32_t>(state.range(1)), m = static_cast<uint32_t>(state.range(2));
  auto code = *cluster::ErasureCode::get(k, m);
  const size_t n = static_cast<size_t>(state.range(0));
  std::string sealed = kiseki::testing::random_bytes(n, 3);
  auto frags = code->encode(sealed);
  std::map<uint32_t, std::string> have;
  for (uint32_t i = m; i < k + m; ++i) have[i] = frags[i];  // data fragments 0..M-1 lost
  std::string back;
  for (auto _ : state) {
    if (!code->decode(have, &back).is_ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(back.data());
  }
  if (back != sealed) state.SkipWithError("decode returned other bytes");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_DecodeLosingM)->Args({64 << 10, 4, 2})->Args({1 << 20, 4, 2})->Args({64 << 10, 8, 3})->Args({1 << 20, 8, 3});

// A healthy read of an erasure-coded chunk: the K data fragments, checked and
// joined (no decoding).
void BM_DecodeHealthy(benchmark::State& state) {
  const uint32_t k = static_cast<uint32_t>(state.range(1)), m = static_cast<uint32_t>(state.range(2));
  auto code = *cluster::ErasureCode::get(k, m);
  const size_t n = static_cast<size_t>(state.range(0));
  std::string sealed = kiseki::testing::random_bytes(n, 4);
  auto frags = code->encode(sealed);
  std::map<uint32_t, std::string> have;
  for (uint32_t i = 0; i < k; ++i) have[i] = frags[i];
  std::string back;
  for (auto _ : state) {
    if (!code->decode(have, &back).is_ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(back.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_DecodeHealthy)->Args({64 << 10, 4, 2})->Args({1 << 20, 4, 2})->Args({1 << 20, 8, 3});

}  // namespace

BENCHMARK_MAIN();
