// SigV4 against the examples AWS publishes for S3 (header auth, presigned URL,
// aws-chunked streaming upload).
#include "protocols/s3/sigv4.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include "protocols/s3/auth.h"
#include "protocols/s3/aws_chunked.h"

namespace kiseki::s3 {

constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

TEST(SigV4, HeaderAuthGetObjectExample) {
  auto auth = parse_authorization(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  ASSERT_TRUE(auth.is_ok());
  EXPECT_EQ(auth->credential.access_key, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(auth->credential.scope(), "20130524/us-east-1/s3/aws4_request");
  std::map<std::string, std::vector<std::string>> headers = {
      {"host", {"examplebucket.s3.amazonaws.com"}},
      {"range", {"bytes=0-9"}},
      {"x-amz-content-sha256", {std::string(kEmptySha256)}},
      {"x-amz-date", {"20130524T000000Z"}}};
  QueryParams q;
  CanonicalInput in{"GET", "/test.txt", &q, &headers, &auth->signed_headers, kEmptySha256};
  std::string creq = canonical_request(in);
  EXPECT_EQ(creq,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto key = signing_key(kSecret, auth->credential);
  EXPECT_EQ(sign_hex(key, string_to_sign("20130524T000000Z", auth->credential, creq)), auth->signature);
}

TEST(SigV4, PresignedUrlExample) {
  QueryParams q;
  ASSERT_TRUE(parse_query(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
      "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
      &q));
  std::map<std::string, std::vector<std::string>> headers = {{"host", {"examplebucket.s3.amazonaws.com"}}};
  std::vector<std::string> signed_headers = {"host"};
  CanonicalInput in{"GET", "/test.txt", &q, &headers, &signed_headers, kUnsignedPayload};
  auto cred = *parse_credential("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(sign_hex(signing_key(kSecret, cred), string_to_sign("20130524T000000Z", cred, canonical_request(in))),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// A thread keeps its last signing key: a request with another secret, date,
// region or service in between, or after, gets its own (each one checked
// against AWS's example signature, re-signed for the other scopes by hand).
TEST(SigV4, SigningKeysFollowSecretAndScope) {
  auto cred = *parse_credential("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
  auto direct = [](std::string_view secret, const Credential& c) {
    std::string k = "AWS4" + std::string(secret);
    auto d = crypto::hmac_sha256(as_bytes(k), as_bytes(c.date));
    d = crypto::hmac_sha256(d, as_bytes(c.region));
    d = crypto::hmac_sha256(d, as_bytes(c.service));
    return crypto::hmac_sha256(d, as_bytes("aws4_request"));
  };
  Credential other_date = cred, other_region = cred, other_service = cred;
  other_date.date = "20130525";
  other_region.region = "eu-west-1";
  other_service.service = "iam";
  std::string other_secret = std::string(kSecret) + "x";
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(signing_key(kSecret, cred), direct(kSecret, cred));
    EXPECT_EQ(signing_key(kSecret, cred), direct(kSecret, cred));
    EXPECT_EQ(signing_key(other_secret, cred), direct(other_secret, cred));
    EXPECT_EQ(signing_key(kSecret, other_date), direct(kSecret, other_date));
    EXPECT_EQ(signing_key(kSecret, other_region), direct(kSecret, other_region));
    EXPECT_EQ(signing_key(kSecret, other_service), direct(kSecret, other_service));
  }
  EXPECT_NE(direct(kSecret, cred), direct(other_secret, cred));
}

// Found by fuzz_s3_request: a year far from now overflowed the nanoseconds.
TEST(SigV4, AmzDatesOutOfRangeOrSignedAreRefused) {
  int64_t ns = 0;
  ASSERT_TRUE(parse_amz_date("20260101T000000Z", &ns));
  EXPECT_EQ(ns, 1767225600ll * 1000000000);
  EXPECT_FALSE(parse_amz_date("99991231T235959Z", &ns));
  EXPECT_FALSE(parse_amz_date("19691231T235959Z", &ns));
  EXPECT_FALSE(parse_amz_date("2026010-T000000Z", &ns));
  EXPECT_FALSE(parse_amz_date("20260101T-10000Z", &ns));
  EXPECT_FALSE(parse_amz_date("20260230T000000Z", &ns));  // no such day
  EXPECT_FALSE(parse_amz_date("20261301T000000Z", &ns));
  EXPECT_FALSE(parse_amz_date("20260101T240000Z", &ns));
}

TEST(SigV4, AmzDatesAgreeWithTheCCalendar) {
  // Every 7th day (and its hour, minute, second varied) from 1970 to 2200,
  // leap days and leap-rule years (2000, 2100) included, against timegm.
  std::tm tm{};
  for (time_t t = 0; t < 7'258'118'400; t += 7 * 86'400 + 3'661) {
    gmtime_r(&t, &tm);
    char s[64];
    std::snprintf(s, sizeof(s), "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
    int64_t ns = 0;
    ASSERT_TRUE(parse_amz_date(s, &ns)) << s;
    ASSERT_EQ(ns, static_cast<int64_t>(t) * 1'000'000'000) << s;
  }
  int64_t ns = 0;
  ASSERT_TRUE(parse_amz_date("20240229T235959Z", &ns));
  EXPECT_EQ(ns, 1709251199ll * 1000000000);
  EXPECT_FALSE(parse_amz_date("21000229T000000Z", &ns));  // 2100 is no leap year
}

TEST(SigV4, EncodingRules) {
  EXPECT_EQ(uri_encode("a b/c~d+e%", true), "a%20b/c~d%2Be%25");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  std::string out;
  EXPECT_TRUE(uri_decode("a%20b%2F", &out));
  EXPECT_EQ(out, "a b/");
  EXPECT_FALSE(uri_decode("%zz", &out));
  EXPECT_FALSE(uri_decode("abc%2", &out));
  QueryParams q;
  ASSERT_TRUE(parse_query("prefix=&list-type=2&delimiter=%2F&uploads", &q));
  EXPECT_EQ(canonical_query(q), "delimiter=%2F&list-type=2&prefix=&uploads=");
  EXPECT_FALSE(parse_query("a=%G1", &q));
  EXPECT_FALSE(parse_authorization("AWS4-HMAC-SHA256 Credential=x").is_ok());
  EXPECT_FALSE(parse_authorization("AWS AKID:sig").is_ok());
  EXPECT_FALSE(parse_credential("AKID/2013/us-east-1/s3/aws4_request").is_ok());
}

// The aws-chunked example: 66560 bytes of 'a' in a 64 KiB chunk and a 1 KiB chunk.
class ChunkedTest : public ::testing::Test {
 protected:
  ChunkSigning signing() {
    auto cred = *parse_credential("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
    return {signing_key(kSecret, cred), "20130524T000000Z", cred,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  }
  static std::string body(const std::string& sig1, const std::string& sig2, const std::string& sig3) {
    return "10000;chunk-signature=" + sig1 + "\r\n" + std::string(65536, 'a') + "\r\n" + "400;chunk-signature=" +
           sig2 + "\r\n" + std::string(1024, 'a') + "\r\n" + "0;chunk-signature=" + sig3 + "\r\n\r\n";
  }
  static Result<std::string> decode(const std::string& raw, std::optional<ChunkSigning> s, bool trailer = false,
                                    uint64_t len = 66560) {
    AwsChunkedReader r(gateway::source_from(as_bytes(raw)), std::move(s), trailer, len);
    std::string out;
    uint8_t buf[7000];
    for (;;) {
      auto n = r.read({buf, sizeof(buf)});
      if (!n) return n.status();
      if (*n == 0) break;
      out.append(reinterpret_cast<char*>(buf), *n);
    }
    return out;
  }
  const std::string s1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
  const std::string s2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
  const std::string s3 = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
};

TEST_F(ChunkedTest, SignedChunksVerify) {
  auto out = decode(body(s1, s2, s3), signing());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(*out, std::string(66560, 'a'));
}

TEST_F(ChunkedTest, TamperedOrTruncatedBodiesFail) {
  std::string tampered = body(s1, s2, s3);
  tampered[200] = 'b';
  EXPECT_EQ(decode(tampered, signing()).code(), ErrorCode::kPermissionDenied);
  std::string badsig = body(s1, s1, s3);
  EXPECT_EQ(decode(badsig, signing()).code(), ErrorCode::kPermissionDenied);
  std::string full = body(s1, s2, s3);
  for (size_t cut : {size_t{10}, size_t{66000}, full.size() - 3})
    EXPECT_FALSE(decode(full.substr(0, cut), signing()).is_ok()) << cut;
  EXPECT_FALSE(decode("zz;chunk-signature=x\r\n", signing()).is_ok());
  EXPECT_FALSE(decode(full, signing(), false, 5).is_ok()) << "decoded length must match";
}

TEST_F(ChunkedTest, UnsignedWithTrailer) {
  std::string raw = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  AwsChunkedReader r(gateway::source_from(as_bytes(raw)), std::nullopt, true, 11);
  std::string out;
  uint8_t buf[4];
  for (;;) {
    auto n = r.read({buf, sizeof(buf)});
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    if (*n == 0) break;
    out.append(reinterpret_cast<char*>(buf), *n);
  }
  EXPECT_EQ(out, "hello world");
  EXPECT_EQ(r.trailers().at("x-amz-checksum-crc32"), "DUoRhQ==");
}

}  // namespace kiseki::s3
