#include "common/status.h"

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace kiseki {

static Result<int> half(int v) {
  if (v % 2) return invalid_argument("odd");
  return v / 2;
}
static Status quarter(int v, int* out) {
  KISEKI_ASSIGN_OR_RETURN(int h, half(v));
  KISEKI_ASSIGN_OR_RETURN(*out, half(h));
  return Status::ok();
}

TEST(Status, PropagatesFirstError) {
  int out = 0;
  EXPECT_TRUE(quarter(8, &out).is_ok());
  EXPECT_EQ(out, 2);
  Status st = quarter(6, &out);
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(st.to_string(), "InvalidArgument: odd");
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(ErrorCode::kCryptoShredded); ++c)
    EXPECT_NE(error_code_name(static_cast<ErrorCode>(c)), "Unknown") << c;
}

TEST(Status, ErrnoMapping) {
  EXPECT_EQ(errno_status("x", ENOSPC).code(), ErrorCode::kNoSpace);
  EXPECT_EQ(errno_status("x", ENOENT).code(), ErrorCode::kNotFound);
  EXPECT_EQ(errno_status("x", EIO).code(), ErrorCode::kIoError);
}

TEST(Bytes, DecoderRejectsTruncation) {
  std::string s;
  Encoder(&s).u64(7).str("hello");
  Decoder ok(s);
  EXPECT_EQ(ok.u64(), 7u);
  EXPECT_EQ(ok.str(), "hello");
  EXPECT_TRUE(ok.ok() && ok.done());
  Decoder bad(std::string_view(s).substr(0, s.size() - 1));
  bad.u64();
  bad.str();
  EXPECT_FALSE(bad.ok());
}

TEST(Bytes, HexRoundTrip) {
  Bytes b;
  ASSERT_TRUE(from_hex("00ff10Ab", &b));
  EXPECT_EQ(to_hex(b), "00ff10ab");
  EXPECT_FALSE(from_hex("0g", &b));
  EXPECT_FALSE(from_hex("abc", &b));
}

}  // namespace kiseki
