// The dates S3 writes: RFC 7231 IMF-fixdate, read back by parse_http_date.
#include "protocols/s3/dates.h"

#include <gtest/gtest.h>

namespace kiseki::s3 {

TEST(Dates, HttpDateIsImfFixdate) {
  constexpr int64_t kSecond = 1'000'000'000;
  EXPECT_EQ(http_date(784111777 * kSecond), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 7231's example
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(951782400 * kSecond + 999'999'999), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(http_date(4102444799 * kSecond), "Thu, 31 Dec 2099 23:59:59 GMT");
  // Every day of a year and a few times in each: what is written reads back.
  for (int64_t s = 1798761600; s < 1798761600 + 366 * 86400; s += 86400 + 3607) {
    std::string d = http_date(s * kSecond);
    int64_t back = -1;
    ASSERT_TRUE(parse_http_date(d, &back)) << d;
    EXPECT_EQ(back, s * kSecond) << d;
  }
}

}  // namespace kiseki::s3
