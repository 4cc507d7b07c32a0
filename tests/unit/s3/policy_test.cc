// The bucket policy language: a table of requests × policies → decisions.
#include "protocols/s3/policy.h"

#include <gtest/gtest.h>

#include <map>

namespace kiseki::s3 {

namespace {

struct Req {
  std::string action;
  std::string key;  // "" = the bucket
  std::string account;  // "" = anonymous
  std::map<std::string, std::vector<std::string>> ctx;
  std::string user;  // "" = the account's own key
};

PolicyDecision decide(const std::string& policy, const Req& q) {
  auto p = BucketPolicy::parse(policy, "photos");
  EXPECT_TRUE(p.is_ok()) << p.status().to_string() << "\n" << policy;
  if (!p) return PolicyDecision::kNone;
  PolicyRequest r;
  r.action = q.action;
  r.resource = "arn:aws:s3:::photos" + (q.key.empty() ? "" : "/" + q.key);
  r.anonymous = q.account.empty();
  r.account = q.account;
  r.user = q.user;
  r.context = [&](std::string_view k) -> std::optional<std::vector<std::string>> {
    auto it = q.ctx.find(std::string(k));
    if (it == q.ctx.end()) return std::nullopt;
    return it->second;
  };
  return p->evaluate(r);
}

std::string doc(const std::string& statements) { return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}"; }

constexpr auto A = PolicyDecision::kAllow, D = PolicyDecision::kDeny, N = PolicyDecision::kNone;

}  // namespace

TEST(BucketPolicy, DecisionTable) {
  const std::string public_read = doc(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
      "Resource":"arn:aws:s3:::photos/public/*"})");
  const std::string deny_over_allow = doc(R"({"Effect":"Allow","Principal":{"AWS":["7"]},"Action":"s3:*",
      "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]},
      {"Sid":"keep","Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutObject"],
      "Resource":"arn:aws:s3:::photos/keep/*"})");
  const std::string from_lan = doc(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::7:root"},
      "Action":"s3:Get*","Resource":"arn:aws:s3:::photos/*",
      "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"Bool":{"aws:SecureTransport":"true"}}})");
  const std::string not_from = doc(R"({"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*",
      "Condition":{"NotIpAddress":{"aws:SourceIp":"192.168.1.0/24"}}})");
  const std::string list_prefix = doc(R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket",
      "Resource":"arn:aws:s3:::photos","Condition":{"StringLike":{"s3:prefix":["home/${x}*","shared/*"]},
      "NumericLessThanEquals":{"s3:max-keys":"100"}}})");
  const std::string not_principal = doc(R"({"Effect":"Deny","NotPrincipal":{"AWS":"7"},"NotAction":"s3:Get*",
      "Resource":"arn:aws:s3:::photos/*"})");
  const std::string tags = doc(R"({"Effect":"Allow","Principal":{"CanonicalUser":"9"},"Action":"s3:GetObject",
      "Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/Team":"ml"}}},
      {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
      "Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret"]}}},
      {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","NotResource":"arn:aws:s3:::photos/in/*",
      "Condition":{"StringNotEqualsIfExists":{"s3:x-amz-acl":"private"}}})");
  const std::string users = doc(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::7:user/alice"},
      "Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
      {"Effect":"Allow","Principal":{"AWS":"8"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*"},
      {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::8:user/mallory"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"})");
  const std::string window = doc(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
      "Resource":"arn:aws:s3:::photos/*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-06-01T00:00:00Z"},
      "Null":{"aws:Referer":"false"}}})");

  struct Row {
    const std::string* policy;
    Req req;
    PolicyDecision want;
    const char* why;
  };
  const Row rows[] = {
      {&public_read, {"s3:GetObject", "public/a.jpg", ""}, A, "anonymous read under the prefix"},
      {&public_read, {"s3:GetObject", "private/a.jpg", ""}, N, "outside the resource"},
      {&public_read, {"s3:PutObject", "public/a.jpg", ""}, N, "another action"},
      {&public_read, {"s3:getobject", "public/a.jpg", "3"}, A, "actions match in any case; * is every account"},
      {&deny_over_allow, {"s3:PutObject", "tmp/x", "7"}, A, "allowed account"},
      {&deny_over_allow, {"s3:PutObject", "keep/x", "7"}, D, "explicit deny over allow"},
      {&deny_over_allow, {"s3:DeleteObject", "keep/x", "1"}, D, "the deny holds for everyone, the owner too"},
      {&deny_over_allow, {"s3:ListBucket", "", "7"}, A, "the bucket resource"},
      {&deny_over_allow, {"s3:ListBucket", "", "8"}, N, "another account"},
      {&deny_over_allow, {"s3:ListBucket", "", ""}, N, "anonymous is no account"},
      {&from_lan, {"s3:GetObject", "a", "7", {{"aws:sourceip", {"10.1.2.3"}}, {"aws:securetransport", {"true"}}}}, A, "in the block"},
      {&from_lan, {"s3:GetObject", "a", "7", {{"aws:sourceip", {"11.1.2.3"}}, {"aws:securetransport", {"true"}}}}, N, "outside it"},
      {&from_lan, {"s3:GetObject", "a", "7", {{"aws:sourceip", {"2001:db8::1"}}, {"aws:securetransport", {"true"}}}}, A, "IPv6"},
      {&from_lan, {"s3:GetObject", "a", "7", {{"aws:sourceip", {"10.1.2.3"}}, {"aws:securetransport", {"false"}}}}, N, "every condition must hold"},
      {&from_lan, {"s3:GetObjectTagging", "a", "7", {{"aws:sourceip", {"10.0.0.1"}}, {"aws:securetransport", {"true"}}}}, A, "s3:Get* wildcard"},
      {&from_lan, {"s3:GetObject", "a", "7"}, N, "a positive operator on an absent key fails"},
      {&not_from, {"s3:GetObject", "a", "1", {{"aws:sourceip", {"192.168.1.20"}}}}, N, "inside the allowed network"},
      {&not_from, {"s3:GetObject", "a", "1", {{"aws:sourceip", {"192.168.2.20"}}}}, D, "NotIpAddress"},
      {&not_from, {"s3:GetObject", "a", "1"}, D, "a negated operator on an absent key holds"},
      {&list_prefix, {"s3:ListBucket", "", "", {{"s3:prefix", {"shared/2026"}}, {"s3:max-keys", {"50"}}}}, A, "StringLike"},
      {&list_prefix, {"s3:ListBucket", "", "", {{"s3:prefix", {"home/${x}abc"}}, {"s3:max-keys", {"100"}}}}, A, "literal ${x}, <= 100"},
      {&list_prefix, {"s3:ListBucket", "", "", {{"s3:prefix", {"shared/"}}, {"s3:max-keys", {"1000"}}}}, N, "NumericLessThanEquals"},
      {&list_prefix, {"s3:ListBucket", "", "", {{"s3:max-keys", {"10"}}}}, N, "no prefix"},
      {&not_principal, {"s3:PutObject", "a", "8"}, D, "NotPrincipal + NotAction"},
      {&not_principal, {"s3:PutObject", "a", "7"}, N, "the principal left out"},
      {&not_principal, {"s3:GetObject", "a", "8"}, N, "the action left out"},
      {&not_principal, {"s3:PutObject", "a", ""}, D, "anonymous is not account 7"},
      {&tags, {"s3:GetObject", "a", "9", {{"s3:existingobjecttag/Team", {"ml"}}}}, A, "ExistingObjectTag, the tag's case kept"},
      {&tags, {"s3:GetObject", "a", "9", {{"s3:existingobjecttag/Team", {"web"}}}}, N, "another value"},
      {&tags, {"s3:PutObject", "in/a", "9", {{"s3:requestobjecttagkeys", {"a", "secret"}}}}, D, "ForAnyValue"},
      {&tags, {"s3:PutObject", "in/a", "9", {{"s3:requestobjecttagkeys", {"a", "b"}}}}, N, "no secret tag"},
      {&tags, {"s3:PutObject", "out/a", "9", {{"s3:x-amz-acl", {"public-read"}}}}, D, "NotResource, StringNotEqualsIfExists"},
      {&tags, {"s3:PutObject", "out/a", "9", {{"s3:x-amz-acl", {"private"}}}}, N, "the acl allowed"},
      {&tags, {"s3:PutObject", "out/a", "9"}, D, "IfExists: the condition holds where the key is absent"},
      {&users, {"s3:GetObject", "a", "7", {}, "alice"}, A, "the user named"},
      {&users, {"s3:GetObject", "a", "7", {}, "bob"}, N, "another user of the account"},
      {&users, {"s3:GetObject", "a", "7"}, N, "the account's own key is not the user"},
      {&users, {"s3:GetObject", "a", "9", {}, "alice"}, N, "a user of another account"},
      {&users, {"s3:PutObject", "a", "8", {}, "carol"}, A, "an account principal covers its users"},
      {&users, {"s3:PutObject", "a", "8", {}, "mallory"}, D, "a user denied inside an allowed account"},
      {&window, {"s3:GetObject", "a", "", {{"aws:currenttime", {"2026-05-31T23:59:59Z"}}, {"aws:referer", {"x"}}}}, A, "before the date"},
      {&window, {"s3:GetObject", "a", "", {{"aws:currenttime", {"2026-06-01T00:00:01Z"}}, {"aws:referer", {"x"}}}}, N, "after it"},
      {&window, {"s3:GetObject", "a", "", {{"aws:currenttime", {"2026-05-01T00:00:00Z"}}}}, N, "Null: false wants the key"},
  };
  for (const auto& r : rows) EXPECT_EQ(decide(*r.policy, r.req), r.want) << r.why;
}

TEST(BucketPolicy, RefusesWhatS3Refuses) {
  auto refused = [](const std::string& statements) {
    auto p = BucketPolicy::parse(doc(statements), "photos");
    return !p.is_ok() && p.status().message().starts_with("MalformedPolicy:");
  };
  EXPECT_FALSE(refused(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"})"));
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"})"))
      << "another bucket's resource";
  EXPECT_TRUE(refused(R"({"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"})"));
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::photos/*"})")) << "no action";
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"})")) << "no principal";
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::photos"})"));
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:*","Resource":"arn:aws:s3:::photos"})"));
  EXPECT_TRUE(refused(R"({"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos",
      "Condition":{"StringSometimes":{"s3:prefix":"a"}}})")) << "an unknown operator";
  EXPECT_FALSE(BucketPolicy::parse("{not json", "photos").is_ok());
  EXPECT_FALSE(BucketPolicy::parse(R"({"Version":"2012-10-17"})", "photos").is_ok());
  EXPECT_FALSE(BucketPolicy::parse(R"({"Version":"1999","Statement":[]})", "photos").is_ok());
}

TEST(BucketPolicy, PublicIsAnAllowToEveryoneNoAddressNarrows) {
  auto pub = [](const std::string& statements) { return BucketPolicy::parse(doc(statements), "photos")->is_public(); };
  EXPECT_TRUE(pub(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"})"));
  EXPECT_TRUE(pub(R"({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*",
      "Condition":{"StringLike":{"aws:Referer":"https://example.com/*"}}})"));
  EXPECT_FALSE(pub(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*",
      "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}})"));
  EXPECT_FALSE(pub(R"({"Effect":"Allow","Principal":{"AWS":"7"},"Action":"s3:*","Resource":"arn:aws:s3:::photos/*"})"));
  EXPECT_FALSE(pub(R"({"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/*"})"));
}

TEST(BucketPolicy, GlobMatch) {
  EXPECT_TRUE(glob_match("a*b?c", "aXXbYc"));
  EXPECT_FALSE(glob_match("a*b?c", "aXXbc"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("s3:Get*", "S3:GETOBJECT", true));
  EXPECT_FALSE(glob_match("s3:Get*", "S3:GETOBJECT", false));
  EXPECT_TRUE(glob_match("*a*a*a*", "xaxaxa"));
  EXPECT_FALSE(glob_match("*a*a*a*b", std::string(1000, 'a')));
}

}  // namespace kiseki::s3
