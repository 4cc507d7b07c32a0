// S3 access control lists: grants of READ, WRITE, READ_ACP, WRITE_ACP and
// FULL_CONTROL to accounts (a tenant's id) and to the AllUsers and
// AuthenticatedUsers groups, as canned ACLs (x-amz-acl), grant headers
// (x-amz-grant-*) and AccessControlPolicy documents give them. The owner's
// FULL_CONTROL is implicit (every object in a bucket belongs to the bucket's
// owner), so a stored ACL holds the other grants only: a bucket's in its "acl"
// configuration item, an object's in its metadata under kAclHeader.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocols/s3/request.h"

namespace kiseki::s3 {

inline constexpr const char* kAclHeader = "x-kiseki-acl";
inline constexpr std::string_view kAclItem = "acl";
inline constexpr std::string_view kPrivateAcl = "private";  // a bucket's stored ACL without grants

enum class Permission : uint8_t { kRead, kWrite, kReadAcp, kWriteAcp, kFullControl };

struct Grant {
  enum class Kind : uint8_t { kAccount, kAllUsers, kAuthenticatedUsers } kind = Kind::kAccount;
  std::string id;  // kAccount: the tenant's id
  Permission perm = Permission::kRead;
  bool operator==(const Grant&) const = default;
};

using Acl = std::vector<Grant>;

// The ACL a request's x-amz-acl or x-amz-grant-* headers set; nullopt if it
// sends neither. InvalidRequest for both at once, InvalidArgument for an
// unknown canned ACL or grantee, UnresolvableGrantByEmailAddress for an e-mail
// grantee (Kiseki's accounts have none).
Result<std::optional<Acl>> acl_from_headers(const S3Request& q);
// <AccessControlPolicy>…; grants to `owner` are dropped (implicit).
Result<Acl> parse_acl_xml(std::string_view body, std::string_view owner);
// The document Get{Bucket,Object}Acl return.
std::string acl_xml(const Acl& acl, std::string_view owner);

std::string encode_acl(const Acl& acl);  // "" for no grants
Result<Acl> decode_acl(std::string_view stored);

// Whether `acl` gives the caller (anonymous, or `account`) `need` (FULL_CONTROL
// gives every permission); `ignore_public`: grants to the groups count not.
bool acl_allows(const Acl& acl, bool anonymous, std::string_view account, Permission need, bool ignore_public);
// Grants something to AllUsers or AuthenticatedUsers.
bool acl_is_public(const Acl& acl);

}  // namespace kiseki::s3
