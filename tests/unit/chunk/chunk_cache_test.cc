#include "chunk/chunk_cache.h"

#include <gtest/gtest.h>

namespace kiseki::chunk {
namespace {

ChunkId id_of(DomainId domain, uint8_t n) {
  ChunkId id{};
  put_be64(id.bytes.data(), domain);
  id.bytes[9] = 0;  // one shard for every id: the budget below is one shard's
  id.bytes[31] = n;
  return id;
}

std::shared_ptr<const OpenedChunk> chunk_of(size_t n, uint8_t fill) {
  auto c = std::make_shared<OpenedChunk>();
  c->bytes.assign(n, fill);
  return c;
}

TEST(ChunkCache, KeepsTheMostRecentlyUsedWithinItsBudget) {
  ChunkCache cache(16 * 64 * 1024);  // 64 KiB per shard
  for (uint8_t i = 0; i < 4; ++i) cache.put(id_of(5, i), chunk_of(16 * 1024, i));
  EXPECT_EQ(cache.bytes(), 64u * 1024);
  ASSERT_NE(cache.get(id_of(5, 0)), nullptr);  // 0 is now the most recent
  cache.put(id_of(5, 9), chunk_of(16 * 1024, 9));
  EXPECT_EQ(cache.bytes(), 64u * 1024);
  EXPECT_EQ(cache.get(id_of(5, 1)), nullptr);  // the least recent went
  auto hit = cache.get(id_of(5, 0));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->bytes, Bytes(16 * 1024, 0));
  EXPECT_NE(cache.get(id_of(5, 9)), nullptr);
}

TEST(ChunkCache, ChunksTooBigForItAreNotKept) {
  ChunkCache cache(16 * 64 * 1024);
  cache.put(id_of(5, 1), chunk_of(32 * 1024, 1));  // over a quarter of the shard
  EXPECT_EQ(cache.get(id_of(5, 1)), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ChunkCache, OffKeepsNothing) {
  ChunkCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.put(id_of(5, 1), chunk_of(1024, 1));
  EXPECT_EQ(cache.get(id_of(5, 1)), nullptr);
}

TEST(ChunkCache, AShreddedDomainGoesAndNeverComesBack) {
  ChunkCache cache(16 << 20);
  cache.put(id_of(5, 1), chunk_of(1024, 1));
  cache.put(id_of(6, 1), chunk_of(1024, 2));
  cache.put(id_of(0, 1), chunk_of(1024, 3));
  auto held = cache.get(id_of(5, 1));  // a reader still holds it: it stays valid for the reader
  cache.clear_domain(5, /*forever=*/true);
  EXPECT_EQ(cache.get(id_of(5, 1)), nullptr);
  EXPECT_NE(cache.get(id_of(6, 1)), nullptr);
  EXPECT_EQ(held->bytes, Bytes(1024, 1));
  cache.put(id_of(5, 2), chunk_of(1024, 4));  // a read that began before the shred
  EXPECT_EQ(cache.get(id_of(5, 2)), nullptr);
  // The shared domain: dropped now, taken again later (other tenants' chunks).
  cache.clear_domain(0, /*forever=*/false);
  EXPECT_EQ(cache.get(id_of(0, 1)), nullptr);
  cache.put(id_of(0, 1), chunk_of(1024, 3));
  EXPECT_NE(cache.get(id_of(0, 1)), nullptr);
  EXPECT_EQ(cache.bytes(), 2048u);
}

}  // namespace
}  // namespace kiseki::chunk
