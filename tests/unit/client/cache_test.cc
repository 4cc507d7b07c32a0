// The client cache of kiseki mount: L1 in memory, L2 on disk (CRC-checked
// block files), and the two together in each mode.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "client/cache/block_cache.h"
#include "support/temp_dir.h"

namespace kiseki::client {
namespace {

using kiseki::testing::random_bytes;
using kiseki::testing::TempDir;

Block block(size_t n, uint64_t seed) { return std::make_shared<const std::string>(random_bytes(n, seed)); }

const FileVersion kV1{100, 3 << 20};
const FileVersion kV2{200, 3 << 20};

std::vector<std::filesystem::path> block_files(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir + "/kiseki-l2/blocks"))
    if (e.is_regular_file()) out.push_back(e.path());
  return out;
}

TEST(MemoryCache, ServesTheVersionItWasGivenAndEvictsTheLeastRecentlyUsed) {
  MemoryCache c(3000);
  c.put({1, 7, 0}, kV1, block(1000, 1));
  c.put({1, 7, 1}, kV1, block(1000, 2));
  c.put({1, 8, 0}, kV1, block(1000, 3));
  ASSERT_NE(c.get({1, 7, 0}, kV1), nullptr);  // now the most recent
  EXPECT_EQ(c.get({1, 7, 1}, kV2), nullptr);  // another version: gone
  EXPECT_EQ(c.get({1, 7, 1}, kV1), nullptr);
  c.put({1, 9, 0}, kV1, block(1000, 4));
  c.put({1, 9, 1}, kV1, block(1000, 5));  // evicts {1,8,0}, the least recent
  EXPECT_EQ(c.get({1, 8, 0}, kV1), nullptr);
  EXPECT_EQ(*c.get({1, 7, 0}, kV1), random_bytes(1000, 1));
  EXPECT_LE(c.bytes(), 3000u);
  c.forget_file(1, 9);
  EXPECT_EQ(c.get({1, 9, 0}, kV1), nullptr);
  EXPECT_EQ(c.bytes(), 1000u);
  c.wipe();
  EXPECT_EQ(c.get({1, 7, 0}, kV1), nullptr);
}

TEST(DiskCache, KeepsBlocksInAPrivateDirectoryAndRefusesASecondUser) {
  TempDir t;
  auto c = DiskCache::open(t.path() + "/cache", 10 << 20);
  ASSERT_TRUE(c) << c.status().message();
  struct stat st{};
  ASSERT_EQ(::stat((t.path() + "/cache/kiseki-l2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto again = DiskCache::open(t.path() + "/cache", 10 << 20);
  ASSERT_FALSE(again);
  EXPECT_NE(again.status().message().find("in use"), std::string::npos);
  ASSERT_TRUE((*c)->put({1, 2, 3}, kV1, random_bytes(5000, 9), false));
  Block b = (*c)->get({1, 2, 3}, kV1);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*b, random_bytes(5000, 9));
  EXPECT_EQ((*c)->get({1, 2, 3}, kV2), nullptr);  // stale: removed
  EXPECT_TRUE(block_files(t.path() + "/cache").empty());
}

TEST(DiskCache, AFlippedByteIsDetectedAndTheBlockRemovedNeverReturned) {
  TempDir t;
  auto c = DiskCache::open(t.path(), 10 << 20);
  ASSERT_TRUE(c);
  std::string data = random_bytes(64 << 10, 4);
  ASSERT_TRUE((*c)->put({1, 5, 0}, kV1, data, false));
  auto files = block_files(t.path());
  ASSERT_EQ(files.size(), 1u);
  for (uint64_t at : {uint64_t{20}, uint64_t{56 + 1000}}) {  // the header, then the data
    ASSERT_TRUE((*c)->put({1, 5, 0}, kV1, data, false));
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char ch = 0;
    f.read(&ch, 1);
    ch ^= 0x10;
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&ch, 1);
    f.close();
    EXPECT_EQ((*c)->get({1, 5, 0}, kV1), nullptr);
    EXPECT_FALSE(std::filesystem::exists(files[0]));
  }
  EXPECT_EQ((*c)->usage().corrupt, 2u);
  EXPECT_EQ((*c)->usage().bytes, 0u);
}

TEST(DiskCache, EvictsOrganicBlocksLeastRecentlyUsedFirstAndNeverPinnedOnes) {
  TempDir t;
  const uint64_t per = 1000 + 56;
  auto c = DiskCache::open(t.path(), 3 * per);
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->put({1, 1, 0}, kV1, random_bytes(1000, 1), true));
  ASSERT_TRUE((*c)->put({1, 2, 0}, kV1, random_bytes(1000, 2), false));
  ASSERT_TRUE((*c)->put({1, 3, 0}, kV1, random_bytes(1000, 3), false));
  ASSERT_NE((*c)->get({1, 2, 0}, kV1), nullptr);
  ASSERT_TRUE((*c)->put({1, 4, 0}, kV1, random_bytes(1000, 4), false));  // evicts {1,3,0}
  EXPECT_EQ((*c)->get({1, 3, 0}, kV1), nullptr);
  EXPECT_NE((*c)->get({1, 2, 0}, kV1), nullptr);
  EXPECT_NE((*c)->get({1, 1, 0}, kV1), nullptr);
  // Pinning the organic ones leaves no room for a fourth pin.
  EXPECT_TRUE((*c)->contains({1, 2, 0}, kV1, true));
  EXPECT_TRUE((*c)->contains({1, 4, 0}, kV1, true));
  Status full = (*c)->put({1, 5, 0}, kV1, random_bytes(1000, 5), true);
  EXPECT_EQ(full.code(), ErrorCode::kNoSpace);
  EXPECT_TRUE((*c)->put({1, 6, 0}, kV1, random_bytes(1000, 6), false));  // organic: not kept, no error
  EXPECT_EQ((*c)->get({1, 6, 0}, kV1), nullptr);
  EXPECT_EQ((*c)->usage().pinned_bytes, 3 * per);
  (*c)->forget_file(1, 1);
  EXPECT_EQ((*c)->usage().pinned_bytes, 2 * per);
}

TEST(DiskCache, AMountStartsAndEndsWithAnEmptyCache) {
  TempDir t;
  {
    auto c = DiskCache::open(t.path(), 1 << 20);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->put({1, 1, 0}, kV1, "x", true));
    EXPECT_EQ(block_files(t.path()).size(), 1u);
  }
  EXPECT_TRUE(block_files(t.path()).empty());  // wiped when closed
  // What a crashed mount left is gone when the next one opens the directory.
  std::ofstream(t.path() + "/kiseki-l2/blocks/00/1-0-0") << "left behind";
  auto c = DiskCache::open(t.path(), 1 << 20);
  ASSERT_TRUE(c);
  EXPECT_TRUE(block_files(t.path()).empty());
  EXPECT_EQ((*c)->get({1, 0, 0}, kV1), nullptr);
}

TEST(BlockCache, FallsBackToDiskAndPinsInPinnedMode) {
  TempDir t;
  CacheOptions o;
  o.mode = CacheMode::kPinned;
  o.memory_bytes = 0;  // every hit comes from L2
  o.dir = t.path();
  o.disk_bytes = 2 << 20;
  auto c = BlockCache::open(o);
  ASSERT_TRUE(c);
  (*c)->put({1, 1, 0}, kV1, block(1 << 20, 1));
  EXPECT_EQ(*(*c)->get({1, 1, 0}, kV1), random_bytes(1 << 20, 1));
  EXPECT_EQ((*c)->get({1, 1, 1}, kV1), nullptr);
  CacheStats s = (*c)->stats();
  EXPECT_EQ(s.l2_hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.pinned_bytes, (1u << 20) + 56);
  EXPECT_TRUE((*c)->staged({1, 1, 0}, kV1));
  EXPECT_FALSE((*c)->staged({1, 1, 0}, kV2));
  (*c)->wipe();
  EXPECT_EQ((*c)->get({1, 1, 0}, kV1), nullptr);
  EXPECT_EQ((*c)->stats().l2_bytes, 0u);
}

TEST(BlockCache, StagingNeedsADisk) {
  auto c = BlockCache::open(CacheOptions{});
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)->stage({1, 1, 0}, kV1, "x").code(), ErrorCode::kNotSupported);
  EXPECT_FALSE((*c)->staged({1, 1, 0}, kV1));
}

}  // namespace
}  // namespace kiseki::client
