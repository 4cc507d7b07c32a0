// The policy of a browser upload (POST object): a base64 JSON document the
// owner of an access key signed, saying until when and with which form fields
// the upload may be made.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

struct PostPolicy {
  int64_t expiration_ns = 0;
  struct Condition {
    std::string op;     // "eq" or "starts-with"
    std::string field;  // lower case, without '$'
    std::string value;
  };
  std::vector<Condition> conditions;
  int64_t min_length = 0, max_length = INT64_MAX;  // content-length-range
};

// The decoded JSON; InvalidPolicyDocument for one S3 would refuse.
Result<PostPolicy> parse_post_policy(std::string_view json);

// Checks the form's fields (lower-case names; "bucket" added) against the
// policy at `now_ns`: AccessDenied for an expired policy, a condition the
// fields fail, or a field no condition names (but those S3 exempts).
Status check_post_policy(const PostPolicy& p, const std::map<std::string, std::string>& fields, int64_t now_ns);

}  // namespace kiseki::s3
