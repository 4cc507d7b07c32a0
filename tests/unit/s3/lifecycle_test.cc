#include "protocols/s3/lifecycle.h"

#include <gtest/gtest.h>

namespace kiseki::s3 {

constexpr int64_t kDay = 86400ll * 1'000'000'000;

TEST(Lifecycle, DaysCountFromTheObjectRoundedUpToMidnightUtc) {
  int64_t midnight = 20000 * kDay;  // some day's 00:00 UTC
  EXPECT_EQ(lifecycle_due_ns(midnight, 1), midnight + kDay);
  EXPECT_EQ(lifecycle_due_ns(midnight + 1, 1), midnight + 2 * kDay);
  EXPECT_EQ(lifecycle_due_ns(midnight + kDay - 1, 3), midnight + 4 * kDay);
}

TEST(Lifecycle, FilterAndCanonicalDocument) {
  auto rules = parse_lifecycle_xml(
      "<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
      "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>"
      "<Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>"
      "<Rule><Prefix>old/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date>"
      "</Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
      "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>");
  ASSERT_TRUE(rules.is_ok()) << rules.status().to_string();
  ASSERT_EQ(rules->size(), 2u);
  const LifecycleRule& a = rules->at(0);
  EXPECT_TRUE(lifecycle_filter_matches(a, "p/x", 50, {{"k", "v"}, {"z", "1"}}));
  EXPECT_FALSE(lifecycle_filter_matches(a, "q/x", 50, {{"k", "v"}}));
  EXPECT_FALSE(lifecycle_filter_matches(a, "p/x", 10, {{"k", "v"}})) << "greater than, not equal";
  EXPECT_FALSE(lifecycle_filter_matches(a, "p/x", 100, {{"k", "v"}}));
  EXPECT_FALSE(lifecycle_filter_matches(a, "p/x", 50, {{"k", "w"}}));
  EXPECT_EQ(rules->at(1).prefix, "old/");  // the rule-level Prefix of older clients
  EXPECT_FALSE(rules->at(1).enabled);
  EXPECT_EQ(*rules->at(1).abort_upload_days, 2);
  auto again = parse_lifecycle_xml(lifecycle_xml(*rules));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(lifecycle_xml(*again), lifecycle_xml(*rules));
}

TEST(Lifecycle, RefusesWhatS3Refuses) {
  auto code = [](const std::string& rule) {
    auto r = parse_lifecycle_xml("<LifecycleConfiguration><Rule>" + rule + "</Rule></LifecycleConfiguration>");
    if (r) return std::string("ok");
    std::string m = r.status().message();
    return r.code() == ErrorCode::kNotSupported ? std::string("NotImplemented") : m.substr(0, m.find(':'));
  };
  EXPECT_EQ(code("<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), "ok");
  EXPECT_EQ(code("<Expiration><Days>1</Days></Expiration>"), "MalformedXML");
  EXPECT_EQ(code("<Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"), "InvalidArgument");
  EXPECT_EQ(code("<Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"),
            "MalformedXML");
  EXPECT_EQ(code("<Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:01Z</Date></Expiration>"), "InvalidArgument");
  EXPECT_EQ(code("<Status>Enabled</Status>"), "InvalidRequest");
  EXPECT_EQ(code("<Status>Enabled</Status><Transition><Days>1</Days></Transition>"), "NotImplemented");
  EXPECT_EQ(code("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>"
                 "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                 "</AbortIncompleteMultipartUpload>"),
            "InvalidRequest");
  EXPECT_FALSE(parse_lifecycle_xml("<LifecycleConfiguration/>").is_ok());
}

}  // namespace kiseki::s3
