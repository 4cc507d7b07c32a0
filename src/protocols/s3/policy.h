// Bucket policies: the JSON access policy language of S3 (Version 2012-10-17),
// parsed once, evaluated for every request to the bucket. A statement's
// Effect, Principal / NotPrincipal, Action / NotAction (s3:…, with * and ?),
// Resource / NotResource (arn:aws:s3:::bucket[/key], * and ?) and Condition
// (string, numeric, date, Bool, IP address and Null operators, …IfExists,
// ForAnyValue: / ForAllValues:). An explicit Deny wins over every Allow.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

inline constexpr std::string_view kPolicyItem = "policy";

// What a request asks, as the policy sees it.
struct PolicyRequest {
  std::string action;    // "s3:GetObject"
  std::string resource;  // "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
  bool anonymous = true;
  std::string account;   // the requester's account (tenant id), "" when anonymous
  std::string user;      // its user, "" for the account's own key
  // The values of a condition key ("aws:SourceIp", "s3:prefix",
  // "s3:ExistingObjectTag/team" …), nullopt where the request has none.
  std::function<std::optional<std::vector<std::string>>(std::string_view key)> context;
};

enum class PolicyDecision { kNone, kAllow, kDeny };  // kNone: no statement applies

class BucketPolicy {
 public:
  // MalformedPolicy (as the S3 error's message prefix) for a document S3
  // refuses, including a resource outside `bucket`.
  static Result<BucketPolicy> parse(std::string_view json, std::string_view bucket);
  PolicyDecision evaluate(const PolicyRequest& r) const;
  // Grants something to everyone (GetBucketPolicyStatus' IsPublic): an Allow
  // to "*" that no condition on the caller's address or account narrows.
  bool is_public() const;

  struct Condition {
    std::string op;    // the operator without IfExists and set prefixes ("StringLike")
    std::string key;   // lower case
    std::vector<std::string> values;
    bool if_exists = false;
    enum class Set { kSingle, kAnyValue, kAllValues } set = Set::kSingle;
  };
  struct Statement {
    bool allow = true;
    bool any_principal = false;           // "*" or {"AWS": "*"}
    std::vector<std::string> principals;  // "ID" (the account: its own key and its users') or "ID:user/NAME"
    bool not_principal = false;
    std::vector<std::string> actions;  // lower case
    bool not_action = false;
    std::vector<std::string> resources;
    bool not_resource = false;
    std::vector<Condition> conditions;
  };

 private:
  std::vector<Statement> statements_;
};

// `pattern` with '*' (any run) and '?' (one character); `fold`: ASCII case-insensitive.
bool glob_match(std::string_view pattern, std::string_view s, bool fold = false);

}  // namespace kiseki::s3
