#include <gtest/gtest.h>

#include <isa-l/erasure_code.h>

#include <random>

#include "cluster/erasure.h"

namespace kiseki::cluster {
namespace {

std::string random_string(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Every way of losing up to M fragments, for the codes Kiseki offers and the
// sizes a sealed chunk takes (below one vector, odd, 64 KiB and more).
void every_erasure_pattern(uint32_t k, uint32_t m) {
  auto code = ErasureCode::get(k, m);
  ASSERT_TRUE(code.is_ok());
  for (size_t n : {1ul, 63ul, 1000ul, 65536ul + 40, 300001ul}) {
    std::string sealed = random_string(n, static_cast<uint32_t>(n * 31 + k));
    auto frags = (*code)->encode(sealed);
    ASSERT_EQ(frags.size(), k + m);
    const uint32_t total = k + m;
    for (uint64_t lost = 0; lost < (uint64_t{1} << total); ++lost) {
      if (static_cast<uint32_t>(__builtin_popcountll(lost)) > m) continue;
      std::map<uint32_t, std::string> have;
      for (uint32_t i = 0; i < total; ++i)
        if (!(lost & (uint64_t{1} << i))) have[i] = frags[i];
      std::string back;
      ASSERT_TRUE((*code)->decode(have, &back).is_ok()) << k << "+" << m << " lost " << lost << " n " << n;
      ASSERT_EQ(back, sealed) << k << "+" << m << " lost " << lost << " n " << n;
    }
    // One more lost than M: an error, never other bytes.
    std::map<uint32_t, std::string> few;
    for (uint32_t i = m + 1; i < total; ++i) few[i] = frags[i];
    std::string back;
    EXPECT_EQ((*code)->decode(few, &back).code(), ErrorCode::kCorruption);
  }
}

TEST(ErasureCode, FourPlusTwoDecodesFromAnyFour) { every_erasure_pattern(4, 2); }
TEST(ErasureCode, EightPlusThreeDecodesFromAnyEight) { every_erasure_pattern(8, 3); }

TEST(ErasureCode, ParityMatchesTheReferenceEncoder) {
  auto code = *ErasureCode::get(8, 3);
  const size_t len = 4096;
  std::vector<std::string> data(8), parity(3, std::string(len, '\0')), ref(3, std::string(len, '\0'));
  std::vector<uint8_t*> d, p, r;
  for (uint32_t i = 0; i < 8; ++i) {
    data[i] = random_string(len, i);
    d.push_back(reinterpret_cast<uint8_t*>(data[i].data()));
  }
  for (uint32_t i = 0; i < 3; ++i) {
    p.push_back(reinterpret_cast<uint8_t*>(parity[i].data()));
    r.push_back(reinterpret_cast<uint8_t*>(ref[i].data()));
  }
  code->encode_raw(len, d.data(), p.data());
  // ISA-L's portable reference with tables built here from a Cauchy matrix.
  std::vector<unsigned char> a(11 * 8), tbls(32 * 8 * 3);
  gf_gen_cauchy1_matrix(a.data(), 11, 8);
  ec_init_tables(8, 3, &a[64], tbls.data());
  ec_encode_data_base(static_cast<int>(len), 8, 3, tbls.data(), d.data(), r.data());
  EXPECT_EQ(parity, ref);
}

TEST(ErasureCode, ADamagedFragmentIsSkippedAndNamed) {
  auto code = *ErasureCode::get(4, 2);
  std::string sealed = random_string(70000, 7);
  auto frags = code->encode(sealed);
  std::map<uint32_t, std::string> have;
  for (uint32_t i = 0; i < 6; ++i) have[i] = frags[i];
  have[1][kFragmentHeaderSize + 100] ^= 1;  // a flipped bit in data fragment 1
  std::string back;
  std::vector<uint32_t> bad;
  ASSERT_TRUE(code->decode(have, &back, &bad).is_ok());
  EXPECT_EQ(back, sealed);
  EXPECT_EQ(bad, std::vector<uint32_t>{1});
  std::string_view bytes;
  EXPECT_EQ(parse_fragment(have[1], &bytes).code(), ErrorCode::kCorruption);
  // Three damaged of six: fewer than K good ones.
  have[2][kFragmentHeaderSize] ^= 1;
  have[4][3] ^= 1;  // its index byte
  EXPECT_EQ(code->decode(have, &back).code(), ErrorCode::kCorruption);
}

TEST(ErasureCode, AFragmentRebuiltIsTheSameRecord) {
  auto code = *ErasureCode::get(4, 2);
  std::string sealed = random_string(65576, 9);
  auto frags = code->encode(sealed);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(code->fragment(sealed, i), frags[i]);
}

TEST(ErasureCode, RebuildGivesTheLostRecordsFromAnyK) {
  auto code = *ErasureCode::get(4, 2);
  std::string sealed = random_string(70001, 10);
  auto frags = code->encode(sealed);
  // Lost: data fragment 1 and parity fragment 5; rebuilt from 0, 2, 3, 4.
  std::map<uint32_t, std::string> have{{0, frags[0]}, {2, frags[2]}, {3, frags[3]}, {4, frags[4]}};
  auto back = code->rebuild(ErasureCode::views(have), {1, 5});
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ((*back)[0], frags[1]);
  EXPECT_EQ((*back)[1], frags[5]);
  have.erase(0);
  EXPECT_EQ(code->rebuild(ErasureCode::views(have), {1}).code(), ErrorCode::kCorruption);
}

TEST(ErasureCode, RefusesCodesOutOfRange) {
  EXPECT_FALSE(ErasureCode::get(0, 2).is_ok());
  EXPECT_FALSE(ErasureCode::get(4, 0).is_ok());
  EXPECT_FALSE(ErasureCode::get(33, 2).is_ok());
  EXPECT_FALSE(ErasureCode::get(4, 9).is_ok());
}

}  // namespace
}  // namespace kiseki::cluster
