// Signature Version 2 against the examples AWS publishes for it.
#include "protocols/s3/sigv2.h"

#include <gtest/gtest.h>

namespace kiseki::s3 {
namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

TEST(SigV2, AwsObjectGetExample) {
  std::map<std::string, std::vector<std::string>> headers = {{"host", {"awsexamplebucket1.us-west-1.s3.amazonaws.com"}}};
  std::string resource = v2_canonical_resource("/awsexamplebucket1/photos/puppy.jpg", {});
  std::string sts = v2_string_to_sign("GET", "", "", "Tue, 27 Mar 2007 19:36:42 +0000", headers, resource);
  EXPECT_EQ(sts, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
  EXPECT_EQ(v2_signature(kSecret, sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
}

TEST(SigV2, AwsObjectPutExample) {
  std::string sts = v2_string_to_sign("PUT", "", "image/jpeg", "Tue, 27 Mar 2007 21:15:45 +0000", {},
                                      "/awsexamplebucket1/photos/puppy.jpg");
  EXPECT_EQ(v2_signature(kSecret, sts), "iqRzw+ileNPu1fhspnRs8nOjjIA=");
}

TEST(SigV2, AmzHeadersAndSubResources) {
  std::map<std::string, std::vector<std::string>> headers = {
      {"content-type", {"text/plain"}}, {"x-amz-meta-b", {" two ", "three"}}, {"x-amz-date", {"D"}},
      {"x-amz-meta-a", {"one"}}};
  QueryParams q = {{"versionId", "3"}, {"prefix", "not signed"}, {"acl", ""}, {"response-content-type", "a/b"}};
  EXPECT_EQ(v2_canonical_resource("/b/k", q), "/b/k?acl&response-content-type=a/b&versionId=3");
  EXPECT_EQ(v2_string_to_sign("GET", "md5", "text/plain", "", headers, "/b/k"),
            "GET\nmd5\ntext/plain\n\nx-amz-date:D\nx-amz-meta-a:one\nx-amz-meta-b:two,three\n/b/k");
}

}  // namespace
}  // namespace kiseki::s3
