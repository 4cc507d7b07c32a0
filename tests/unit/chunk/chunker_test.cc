#include "chunk/chunker.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/primitives.h"
#include "support/temp_dir.h"

namespace kiseki::chunk {

static std::vector<std::string> chunks_of(const Chunker& c, const std::string& data) {
  std::vector<size_t> lens;
  c.split(as_bytes(data), &lens);
  std::vector<std::string> out;
  size_t off = 0;
  for (size_t n : lens) {
    out.push_back(data.substr(off, n));
    off += n;
  }
  return out;
}

TEST(Chunker, ParamsValidation) {
  ChunkerParams p;
  EXPECT_TRUE(p.validate().is_ok());
  p.avg_size = 60000;
  EXPECT_FALSE(p.validate().is_ok());
  p = {};
  p.min_size = 1024;
  EXPECT_FALSE(p.validate().is_ok());
  p = {};
  p.max_size = 8 << 20;
  EXPECT_FALSE(p.validate().is_ok());
}

TEST(Chunker, FixedCutsEvenly) {
  FixedChunker c(4096);
  auto parts = chunks_of(c, std::string(10000, 'x'));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].size(), 4096u);
  EXPECT_EQ(parts[2].size(), 10000u - 8192);
  EXPECT_EQ(c.next_cut(as_bytes(std::string(100, 'x')), false), 0u);
}

TEST(Chunker, FastCdcRespectsBoundsAndCoversInput) {
  FastCdcChunker c(16 << 10, 64 << 10, 256 << 10);
  std::string data = kiseki::testing::random_bytes(16 << 20, 42);
  std::vector<size_t> lens;
  c.split(as_bytes(data), &lens);
  size_t total = 0;
  for (size_t i = 0; i < lens.size(); ++i) {
    total += lens[i];
    EXPECT_LE(lens[i], 256u << 10);
    if (i + 1 < lens.size()) {
      EXPECT_GE(lens[i], 16u << 10);
    }
  }
  EXPECT_EQ(total, data.size());
  double avg = static_cast<double>(total) / lens.size();
  EXPECT_GT(avg, 32 << 10);
  EXPECT_LT(avg, 128 << 10);
}

TEST(Chunker, FastCdcStreamingAgreesWithWholeBuffer) {
  FastCdcChunker c(16 << 10, 64 << 10, 256 << 10);
  std::string data = kiseki::testing::random_bytes(3 << 20, 7);
  std::vector<size_t> whole;
  c.split(as_bytes(data), &whole);
  // Feed in windows of max_size as a stream would.
  std::vector<size_t> streamed;
  size_t off = 0;
  while (off < data.size()) {
    size_t avail = std::min<size_t>(data.size() - off, 2 * c.max_size());
    bool eof = off + avail == data.size();
    size_t n = c.next_cut(as_bytes(std::string_view(data).substr(off, avail)), eof);
    ASSERT_GT(n, 0u);
    streamed.push_back(n);
    off += n;
  }
  EXPECT_EQ(streamed, whole);
}

// The bar: after a 100-byte edit in the middle of a 16 MiB random file,
// at least 90 % of the chunks are shared with the old version.
TEST(Chunker, FastCdcSmallEditKeepsChunksShared) {
  FastCdcChunker c(16 << 10, 64 << 10, 256 << 10);
  std::string v1 = kiseki::testing::random_bytes(16 << 20, 99);
  std::string v2 = v1;
  std::string edit = kiseki::testing::random_bytes(100, 5);
  v2.replace(v2.size() / 2, 100, edit);
  std::set<std::string> old_ids;
  for (const auto& ch : chunks_of(c, v1)) old_ids.insert(to_hex(crypto::sha256(as_bytes(ch))));
  auto new_chunks = chunks_of(c, v2);
  size_t shared = 0;
  for (const auto& ch : new_chunks) shared += old_ids.count(to_hex(crypto::sha256(as_bytes(ch))));
  double ratio = static_cast<double>(shared) / new_chunks.size();
  EXPECT_GE(ratio, 0.90) << shared << " of " << new_chunks.size();
  // An insertion (shifting every later byte) must also stay local.
  std::string v3 = v1;
  v3.insert(v3.size() / 2, edit);
  auto ins_chunks = chunks_of(c, v3);
  shared = 0;
  for (const auto& ch : ins_chunks) shared += old_ids.count(to_hex(crypto::sha256(as_bytes(ch))));
  EXPECT_GE(static_cast<double>(shared) / ins_chunks.size(), 0.90);
  // Fixed-size chunking loses almost everything on an insertion: the contrast.
  FixedChunker f(64 << 10);
  std::set<std::string> fixed_old;
  for (const auto& ch : chunks_of(f, v1)) fixed_old.insert(to_hex(crypto::sha256(as_bytes(ch))));
  shared = 0;
  auto fixed_new = chunks_of(f, v3);
  for (const auto& ch : fixed_new) shared += fixed_old.count(to_hex(crypto::sha256(as_bytes(ch))));
  EXPECT_LT(static_cast<double>(shared) / fixed_new.size(), 0.6);
}

}  // namespace kiseki::chunk
