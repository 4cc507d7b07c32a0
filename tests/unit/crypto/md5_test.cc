// MD5 of S3 ETags (crypto/md5.h): RFC 1321's test suite, streams split at every
// kind of boundary, the lanes kernels against OpenSSL, and many threads hashing
// at once through the combiner (every digest checked against OpenSSL's).
#include "crypto/md5.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <thread>

#include "support/temp_dir.h"

namespace kiseki::crypto {
namespace {

using kiseki::testing::random_bytes;

std::array<uint8_t, 16> openssl_md5(ByteSpan b) {
  std::array<uint8_t, 16> d;
  EVP_Digest(b.data(), b.size(), d.data(), nullptr, EVP_md5(), nullptr);
  return d;
}

std::string hex(const std::array<uint8_t, 16>& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t c : d) s += {digits[c >> 4], digits[c & 15]};
  return s;
}

std::array<uint8_t, 16> ours(const std::string& data, std::mt19937_64& rng, size_t max_piece) {
  Md5 m;
  for (size_t off = 0; off < data.size();) {
    size_t n = std::min<size_t>(data.size() - off, 1 + rng() % max_piece);
    m.update(as_bytes(std::string_view(data).substr(off, n)));
    off += n;
  }
  return m.finish();
}

TEST(Md5Test, Rfc1321Suite) {
  const std::pair<const char*, const char*> suite[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const auto& [in, want] : suite) {
    Md5 m;
    m.update(as_bytes(std::string_view(in)));
    EXPECT_EQ(hex(m.finish()), want) << in;
  }
}

TEST(Md5Test, EveryLengthAndSplitMatchesOpenSsl) {
  std::mt19937_64 rng(7);
  for (size_t n : {0ul, 1ul, 55ul, 56ul, 63ul, 64ul, 65ul, 119ul, 120ul, 1023ul, 1024ul, 1025ul, 65536ul, 300001ul}) {
    std::string data = random_bytes(n, n);
    for (size_t piece : {1ul, 63ul, 64ul, 1000ul, 70000ul}) EXPECT_EQ(ours(data, rng, piece), openssl_md5(as_bytes(data))) << n;
  }
}

// Both kernels where the CPU has them: 8 lanes (AVX2) and 16 (AVX-512); a
// CPU without AVX-512 runs the 8-lane one for both widths.
class Md5LanesTest : public ::testing::TestWithParam<int> {};

TEST_P(Md5LanesTest, TheLanesKernelMatchesOpenSsl) {
  for (int n : {1, 2, 7, 8, 9, 15, 16, 17}) {
    std::vector<std::string> data;
    std::vector<const uint8_t*> p;
    std::vector<std::array<uint32_t, 4>> h(n, {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476});
    for (int l = 0; l < n; ++l) data.push_back(random_bytes(100 * 64, 100 + l));
    for (auto& d : data) p.push_back(reinterpret_cast<const uint8_t*>(d.data()));
    md5_blocks_lanes(reinterpret_cast<uint32_t(*)[4]>(h.data()), p.data(), n, 100, GetParam());
    for (int l = 0; l < n; ++l) {
      std::array<uint32_t, 4> want = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
      md5_blocks_alone(want.data(), p[l], 100);
      EXPECT_EQ(h[l], want) << "lane " << l << " of " << n << ", width " << GetParam();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Widths, Md5LanesTest, ::testing::Values(8, 16));

TEST(Md5Test, ManyThreadsAtOnceShareRounds) {
  constexpr int kThreads = 24;
  Md5LaneStats before = md5_lane_stats();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0}, ready{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<std::string> bodies;
      for (int k = 0; k < 8; ++k) bodies.push_back(random_bytes(64 * 1024 + rng() % (512 * 1024), t * 100 + k));
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (const auto& b : bodies)
        if (ours(b, rng, 128 * 1024) != openssl_md5(as_bytes(b))) wrong.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  Md5LaneStats after = md5_lane_stats();
  if (md5_lane_width() == 0) {
    // No AVX2 (or KISEKI_MD5_LANES=off): every stream is hashed alone, by its own thread.
    EXPECT_EQ(after.rounds, before.rounds) << "the combiner ran without lanes";
    return;
  }
  ASSERT_GT(after.rounds, before.rounds);
  std::printf("%llu rounds, %.2f streams per round\n", static_cast<unsigned long long>(after.rounds - before.rounds),
              static_cast<double>(after.lanes - before.lanes) / static_cast<double>(after.rounds - before.rounds));
  EXPECT_GT(after.lanes - before.lanes, after.rounds - before.rounds) << "no round was shared";
}

// A run only queued (update_deferred) hashes to the same digest, whatever
// came before it in the block, whoever hashes it and in whatever order its
// owners settle; a deferred stream moved or dropped unfinished is settled.
TEST(Md5Test, DeferredRunsMatchOpenSsl) {
  std::mt19937_64 rng(11);
  for (size_t head : {0ul, 1ul, 63ul, 64ul, 100ul})
    for (size_t n : {0ul, 1ul, 1000ul, 1023ul, 1024ul, 1025ul, 65536ul, 65599ul}) {
      std::string data = random_bytes(head + n, head * 7 + n);
      Md5 m;
      m.update(as_bytes(std::string_view(data).substr(0, head)));
      m.update_deferred(as_bytes(std::string_view(data).substr(head)));
      Md5 moved = std::move(m);
      EXPECT_EQ(moved.finish(), openssl_md5(as_bytes(data))) << head << "+" << n;
    }
  { Md5 dropped;
    std::string data = random_bytes(65536, 3);
    dropped.update_deferred(as_bytes(data));
  }  // settles in the destructor (ASan would see a leaked or freed job)
  // Many streams queued at once, settled from the last to the first: the first
  // settle hashes the others' runs beside its own.
  Md5LaneStats before = md5_lane_stats();
  std::vector<std::string> bodies;
  std::vector<Md5> streams(12);
  for (int k = 0; k < 12; ++k) bodies.push_back(random_bytes(64 * 1024 + 64 * k, 500 + k));
  for (int k = 0; k < 12; ++k) streams[k].update_deferred(as_bytes(bodies[k]));
  for (int k = 11; k >= 0; --k) EXPECT_EQ(streams[k].finish(), openssl_md5(as_bytes(bodies[k]))) << k;
  Md5LaneStats after = md5_lane_stats();
  if (md5_lane_width() > 0) {
    EXPECT_GE(after.lanes - before.lanes, (after.rounds - before.rounds) * 2) << "queued runs were hashed alone";
  }
  // Threads deferring and settling at once, some through update() too.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 r(t);
      for (int k = 0; k < 20; ++k) {
        std::string b = random_bytes(16 * 1024 + r() % (256 * 1024), t * 1000 + k);
        Md5 m;
        size_t cut = r() % b.size();
        m.update(as_bytes(std::string_view(b).substr(0, cut)));
        m.update_deferred(as_bytes(std::string_view(b).substr(cut)));
        if (r() % 2) std::this_thread::yield();
        if (m.finish() != openssl_md5(as_bytes(b))) wrong.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace kiseki::crypto
