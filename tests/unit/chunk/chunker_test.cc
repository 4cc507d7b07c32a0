#include "chunk/chunker.h"

#include <gtest/gtest.h>

#include <array>
#include <bit>
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

// The chunker's cuts are fixed forever (dedup across versions depends on them):
// the fast scan must cut exactly where the plain byte-at-a-time FastCDC does.
// The reference derives the gear table itself, on purpose: a change to the
// library's table changes every cut, and this test is where that shows.
static size_t reference_cut(ByteSpan data, uint32_t min, uint32_t avg, uint32_t max) {
  static const auto gear = [] {
    std::array<uint64_t, 256> g{};
    uint64_t x = 0x6b6973656b69ull;
    for (auto& v : g) {
      x += 0x9e3779b97f4a7c15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      v = z ^ (z >> 31);
    }
    return g;
  }();
  unsigned bits = static_cast<unsigned>(std::countr_zero(avg));
  uint64_t small = ~0ull << (64 - (bits + 1)), large = ~0ull << (64 - (bits - 1));
  size_t n = data.size();
  if (n <= min) return n;
  if (n > max) n = max;
  size_t normal = std::min<size_t>(avg, n);
  uint64_t fp = 0;
  size_t i = min;
  for (; i < normal; ++i) {
    fp = (fp << 1) + gear[data[i]];
    if ((fp & small) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    fp = (fp << 1) + gear[data[i]];
    if ((fp & large) == 0) return i + 1;
  }
  return n;
}

TEST(Chunker, FastCdcCutsWhereTheByteAtATimeAlgorithmCuts) {
  struct P { uint32_t min, avg, max; };
  for (P p : {P{16 << 10, 64 << 10, 256 << 10}, P{4096, 8192, 65536}, P{4097, 16384, 40001}}) {
    FastCdcChunker c(p.min, p.avg, p.max);
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      std::string data = kiseki::testing::random_bytes((4 << 20) + seed * 7919, seed);
      if (seed % 2 == 0)  // low-entropy stretches cut elsewhere than random bytes
        for (size_t k = 0; k < data.size(); k += 3) data[k] = static_cast<char>(k % 5);
      ByteSpan all = as_bytes(data);
      for (size_t off = 0; off < all.size();) {
        ByteSpan rest = all.subspan(off);
        size_t want = reference_cut(rest, p.min, p.avg, p.max);
        ASSERT_EQ(c.next_cut(rest, true), want) << "params " << p.min << "/" << p.avg << "/" << p.max
                                                << " seed " << seed << " offset " << off;
        off += want;
      }
    }
  }
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
