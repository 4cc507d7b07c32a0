// Chunk store put (probe + seal + append + group-commit fdatasync) and get
// (index lookup + read + CRC + open) of 64 KiB chunks, durability `sync`.
#include <benchmark/benchmark.h>

#include <atomic>

#include "chunk/chunk_store.h"
#include "chunk/refs.h"
#include "meta/txn.h"
#include "crypto/key_manager.h"
#include "support/temp_dir.h"

using namespace kiseki;

namespace {

struct Env {
  kiseki::testing::TempDir dir;
  std::unique_ptr<crypto::FileKeyManager> keys = std::move(*crypto::FileKeyManager::open(dir.path() + "/keys"));
  std::unique_ptr<meta::Store> meta = std::move(*meta::Store::open(dir.path() + "/meta"));
  std::unique_ptr<chunk::SegmentStore> segs =
      std::move(*chunk::SegmentStore::open(dir.path() + "/chunks", chunk::SegmentStoreOptions{}));
  std::unique_ptr<chunk::ChunkStore> owner = std::move(*chunk::ChunkStore::open(meta.get(), segs.get(), keys.get()));
  chunk::ChunkStore& store = *owner;
  crypto::DomainKeys dom = crypto::derive_domain_keys(1, crypto::SecretKey::random());
  std::atomic<uint64_t> seq{0};
  std::vector<ChunkId> ids;
};

Env& env() {
  static Env e;
  return e;
}

void BM_ChunkPut64K(benchmark::State& state) {
  auto& e = env();
  std::string data = kiseki::testing::random_bytes(64 << 10, state.thread_index());
  for (auto _ : state) {
    uint64_t n = e.seq.fetch_add(1);
    std::memcpy(data.data(), &n, sizeof(n));  // unique content: no dedup hits
    ChunkId id = crypto::compute_chunk_id(e.dom, as_bytes(data));
    auto p = e.store.prepare(e.dom, id, as_bytes(data));
    if (!p || !e.store.sync({*p}).is_ok()) state.SkipWithError("put failed");
    rocksdb::WriteBatchWithIndex wb;
    meta::Txn txn(e.meta.get(), &wb);
    (void)chunk::apply_ref(txn, id, /*fresh=*/true, 0);
    (void)e.meta->write(wb.GetWriteBatch(), false);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (64 << 10));
}
BENCHMARK(BM_ChunkPut64K)->Threads(1)->Threads(16)->UseRealTime();

void BM_ChunkGet64K(benchmark::State& state) {
  auto& e = env();
  static std::once_flag once;
  std::call_once(once, [&] {
    for (int i = 0; i < 256; ++i) {
      std::string d = kiseki::testing::random_bytes(64 << 10, 1000 + i);
      ChunkId id = crypto::compute_chunk_id(e.dom, as_bytes(d));
      auto p = e.store.prepare(e.dom, id, as_bytes(d));
      (void)e.store.sync({*p});
      rocksdb::WriteBatchWithIndex wb;
      meta::Txn txn(e.meta.get(), &wb);
      (void)chunk::apply_ref(txn, id, /*fresh=*/true, 0);
      (void)e.meta->write(wb.GetWriteBatch(), true);
      e.ids.push_back(id);
    }
  });
  Bytes out;
  size_t i = state.thread_index();
  for (auto _ : state) {
    if (!e.store.read(e.dom, e.ids[i++ % e.ids.size()], &out).is_ok() || out.size() != (64 << 10))
      state.SkipWithError("get failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (64 << 10));
}
BENCHMARK(BM_ChunkGet64K)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
