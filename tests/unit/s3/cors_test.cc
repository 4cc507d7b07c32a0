#include "protocols/s3/cors.h"

#include <gtest/gtest.h>

namespace kiseki::s3 {

TEST(Cors, WildcardMatchesOneRun) {
  EXPECT_TRUE(wildcard_match("*", ""));
  EXPECT_TRUE(wildcard_match("https://*.example.com", "https://a.b.example.com"));
  EXPECT_FALSE(wildcard_match("https://*.example.com", "https://example.com"));
  EXPECT_FALSE(wildcard_match("https://*.example.com", "http://a.example.com"));
  EXPECT_TRUE(wildcard_match("x-amz-*", "x-amz-"));
  EXPECT_FALSE(wildcard_match("ab*ba", "aba")) << "head and tail may not overlap";
  EXPECT_TRUE(wildcard_match("exact", "exact"));
  EXPECT_FALSE(wildcard_match("exact", "exactly"));
}

TEST(Cors, FirstRuleAllowingOriginMethodAndEveryHeaderWins) {
  auto rules = parse_cors_xml(
      "<CORSConfiguration>"
      "<CORSRule><ID>one</ID><AllowedOrigin>https://a.test</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
      "<AllowedHeader>X-Amz-*</AllowedHeader></CORSRule>"
      "<CORSRule><ID>two</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
      "<AllowedMethod>PUT</AllowedMethod><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule>"
      "</CORSConfiguration>");
  ASSERT_TRUE(rules.is_ok()) << rules.status().to_string();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ(rules->at(1).max_age, 5);
  EXPECT_EQ(match_cors(*rules, "https://a.test", "GET", {"x-AMZ-date"})->id, "one");
  EXPECT_EQ(match_cors(*rules, "https://a.test", "GET", {"x-amz-date", "range"}), nullptr)
      << "rule one lacks range and rule two allows no header";
  EXPECT_EQ(match_cors(*rules, "https://a.test", "PUT")->id, "two");
  EXPECT_EQ(match_cors(*rules, "https://b.test", "DELETE"), nullptr);
  // The stored form reads back the same.
  auto again = parse_cors_xml(cors_xml(*rules));
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(cors_xml(*again), cors_xml(*rules));
}

TEST(Cors, RefusesWhatS3Refuses) {
  auto refused = [](const std::string& rule) {
    auto r = parse_cors_xml("<CORSConfiguration><CORSRule>" + rule + "</CORSRule></CORSConfiguration>");
    return r.is_ok() ? std::string("accepted") : r.status().message().substr(0, r.status().message().find(':'));
  };
  EXPECT_EQ(refused("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"), "accepted");
  EXPECT_EQ(refused("<AllowedMethod>GET</AllowedMethod>"), "MalformedXML");
  EXPECT_EQ(refused("<AllowedOrigin>*</AllowedOrigin>"), "MalformedXML");
  EXPECT_EQ(refused("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>"), "InvalidRequest");
  EXPECT_EQ(refused("<AllowedOrigin>**</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"), "InvalidRequest");
  EXPECT_EQ(refused("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
                    "<MaxAgeSeconds>-1</MaxAgeSeconds>"),
            "MalformedXML");
  EXPECT_FALSE(parse_cors_xml("<CORSConfiguration/>").is_ok());
  EXPECT_FALSE(parse_cors_xml("<nope").is_ok());
}

}  // namespace kiseki::s3
