// Per-byte costs on the write and read paths: AES-256-GCM seal/open of a 64 KiB
// chunk (with its HKDF derivations), HMAC-SHA256 chunk ids, MD5 (S3 ETag), CRC32C.
#include <benchmark/benchmark.h>

#include "common/crc32c.h"
#include "crypto/chunk_cipher.h"
#include "crypto/key_manager.h"
#include "crypto/md5.h"
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

// Short messages: an NFS file handle's MAC (keyed once), a SigV4 signing step.
void BM_HmacKeyed40(benchmark::State& state) {
  crypto::HmacSha256 keyed(as_bytes(std::string(32, 'k')));
  std::string msg(40, 'h');
  for (auto _ : state) benchmark::DoNotOptimize(keyed.mac(as_bytes(msg)));
}
BENCHMARK(BM_HmacKeyed40);

void BM_HmacOneShot40(benchmark::State& state) {
  std::string key(32, 'k'), msg(40, 'h');
  for (auto _ : state) benchmark::DoNotOptimize(crypto::hmac_sha256(as_bytes(key), as_bytes(msg)));
}
BENCHMARK(BM_HmacOneShot40);

void BM_Md5_64K(benchmark::State& state) {
  std::string data = kiseki::testing::random_bytes(kChunk, 3);
  for (auto _ : state) benchmark::DoNotOptimize(crypto::md5(as_bytes(data)));
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Md5_64K);

// A lanes kernel: 16 streams of 64 KiB, `range(0)` (16: AVX-512, 8: AVX2) at a
// time (bytes counted over all 16).
void BM_Md5Lanes16x64K(benchmark::State& state) {
  std::vector<std::string> data;
  std::vector<const uint8_t*> p;
  for (int l = 0; l < 16; ++l) data.push_back(kiseki::testing::random_bytes(kChunk, 10 + l));
  for (auto& d : data) p.push_back(reinterpret_cast<const uint8_t*>(d.data()));
  uint32_t h[16][4] = {};
  for (auto _ : state) {
    crypto::md5_blocks_lanes(h, p.data(), 16, kChunk / 64, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(state.iterations() * kChunk * 16);
}
BENCHMARK(BM_Md5Lanes16x64K)->Arg(16)->Arg(8);

// An ETag per 64 KiB body from many threads at once, through the combiner
// (KISEKI_MD5_LANES=off: each alone, for comparison).
void BM_Md5Etag64K(benchmark::State& state) {
  std::string data = kiseki::testing::random_bytes(kChunk, 4 + state.thread_index());
  for (auto _ : state) {
    crypto::Md5 m;
    m.update(as_bytes(data));
    benchmark::DoNotOptimize(m.finish());
  }
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_Md5Etag64K)->Threads(1)->Threads(2)->Threads(16)->UseRealTime();

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
