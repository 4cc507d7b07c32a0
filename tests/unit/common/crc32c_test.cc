#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace kiseki {

// RFC 3720 appendix B.4 vectors and the classic check value.
TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, 0);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
}

TEST(Crc32c, Incremental) {
  std::string s = "hello, kiseki chunk record";
  uint32_t whole = crc32c(s.data(), s.size());
  uint32_t part = crc32c(s.data(), 10);
  EXPECT_EQ(crc32c(s.data() + 10, s.size() - 10, part), whole);
}

}  // namespace kiseki
