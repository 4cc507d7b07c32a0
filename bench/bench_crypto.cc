// Per-byte costs on the write and read paths: AES-256-GCM seal/open of a 64 KiB
// chunk (with its HKDF derivations), HMAC-SHA256 chunk ids, MD5 (S3 ETag), CRC32C.
#include <benchmark/benchmark.h>

#include "common/crc32c.h"
#include "crypto/chunk_cipher.h"
#include "crypto/key_manager.h"
#include "crypto/primitives.h"
#include "support/temp_dir.h"

using namespace kiseki;

namespace {

constexpr size_t kChunk = 64 << 10;

struct Keys {
  kiseki::testing::TempDir dir;
  std::unique_ptr<crypto::FileKeyManager> km = std::move(*crypto::FileKeyManager::open(dir.path() + "/keys"));
};

Keys& keys() {
  static Keys k;
  return k;
}

const crypto::DomainKeys& domain() {
  static const crypto::DomainKeys d = crypto::derive_domain_keys(kSharedDomain, crypto::SecretKey::random());
  return d;
}

void BM_Seal64K(benchmark::State& state) {
  crypto::ChunkCipher cipher(keys().km.get());
  std::string data = kiseki::testing::random_bytes(kChunk, 1);
  Bytes out(kChunk + crypto::kSealOverhead);
  ChunkId id{};
  for (auto _ : state) {
    id.bytes[31]++;
    if (!cipher.seal(domain(), id, as_bytes(data), out.data()).is_ok()) state.SkipWithError("seal failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Seal64K);

void BM_Open64K(benchmark::State& state) {
  crypto::ChunkCipher cipher(keys().km.get());
  std::string data = kiseki::testing::random_bytes(kChunk, 1);
  Bytes sealed(kChunk + crypto::kSealOverhead), out(kChunk);
  ChunkId id{};
  (void)cipher.seal(domain(), id, as_bytes(data), sealed.data());
  for (auto _ : state) {
    if (!cipher.open(domain(), id, sealed, out.data()).is_ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
  }
  if (as_string_view(out) != data) state.SkipWithError("open returned wrong bytes");
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Open64K);

void BM_ChunkIdHmac64K(benchmark::State& state) {
  std::string data = kiseki::testing::random_bytes(kChunk, 2);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::compute_chunk_id(domain(), as_bytes(data)));
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_ChunkIdHmac64K);

void BM_Md5_64K(benchmark::State& state) {
  std::string data = kiseki::testing::random_bytes(kChunk, 3);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::md5(as_bytes(data)));
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Md5_64K);

void BM_Crc32c64K(benchmark::State& state) {
  std::string data = kiseki::testing::random_bytes(kChunk, 4);
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(data.data(), data.size()));
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Crc32c64K);

void BM_HkdfPerChunk(benchmark::State& state) {
  auto master = crypto::SecretKey::random();
  ChunkId id{};
  uint8_t out[32];
  for (auto _ : state) {
    crypto::hkdf_sha256(master.span(), id.bytes, "kiseki-chunk-dek-v1", {out, 32});
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_HkdfPerChunk);

}  // namespace

BENCHMARK_MAIN();
