// Object lock documents as S3 takes and gives them.
#include <gtest/gtest.h>

#include "protocols/s3/object_lock.h"

namespace kiseki::s3 {
namespace {

TEST(ObjectLock, ConfigurationRoundTripsAndGivesTheDefaultRetention) {
  auto c = parse_lock_config(
      "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
      "<Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule></ObjectLockConfiguration>");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(*c->mode, ns::LockMode::kCompliance);
  EXPECT_EQ(c->default_until(0), 2 * 365 * 86400ll * 1000000000ll);
  auto again = parse_lock_config(lock_config_xml(*c));
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->years, 2u);
  auto bare = parse_lock_config(lock_config_xml({}));
  ASSERT_TRUE(bare.is_ok());
  EXPECT_FALSE(bare->mode.has_value());
}

TEST(ObjectLock, RefusesWhatS3Refuses) {
  for (const char* bad : {
           "<ObjectLockConfiguration/>",  // not enabled
           "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/></ObjectLockConfiguration>",
           "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
           "<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
           "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
           "<Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
           "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
           "<Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
           "not xml",
       })
    EXPECT_FALSE(parse_lock_config(bad).is_ok()) << bad;
  EXPECT_FALSE(parse_retention("<Retention><Mode>GOVERNANCE</Mode></Retention>").is_ok());
  EXPECT_FALSE(parse_retention("<Retention><Mode>X</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"
                               "</Retention>").is_ok());
  EXPECT_FALSE(parse_legal_hold("<LegalHold><Status>on</Status></LegalHold>").is_ok());
}

TEST(ObjectLock, RetentionAndLegalHold) {
  auto r = parse_retention(
      "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00.000Z</RetainUntilDate></Retention>");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->mode, ns::LockMode::kGovernance);
  EXPECT_EQ(r->retain_until_ns, 1893456000ll * 1000000000ll);
  EXPECT_NE(retention_xml(*r).find("<RetainUntilDate>2030-01-01T00:00:00"), std::string::npos);
  auto none = parse_retention("<Retention/>");
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->mode, ns::LockMode::kNone);
  EXPECT_TRUE(*parse_legal_hold(legal_hold_xml(true)));
  EXPECT_FALSE(*parse_legal_hold(legal_hold_xml(false)));
}

}  // namespace
}  // namespace kiseki::s3
