// The one authorization decision of every S3 request to a bucket: who asks
// (the bucket's owner, another tenant, anonymous), what (the S3 action of the
// operation, on the bucket or one key), and the bucket's policy, ACLs and
// access settings. An explicit Deny of the policy wins over everything (but
// the owner's own policy operations, so no owner locks itself out); the owner
// may do the rest; anyone else needs an Allow of the policy (not counted for
// a public policy under RestrictPublicBuckets) or a grant of an ACL (none
// under BucketOwnerEnforced, no public one under IgnorePublicAcls). A request
// that sets an ACL is held to the bucket's ownership and BlockPublicAcls.
#include <map>

#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/policy.h"

namespace kiseki::s3 {

namespace {

// The S3 action each operation is (on the key of the request, if it names one).
const std::map<std::string_view, std::string_view>& actions() {
  static const std::map<std::string_view, std::string_view> m = {
      {"DeleteBucket", "s3:DeleteBucket"},
      {"HeadBucket", "s3:ListBucket"},
      {"ListObjects", "s3:ListBucket"},
      {"ListObjectsV2", "s3:ListBucket"},
      {"ListObjectVersions", "s3:ListBucketVersions"},
      {"GetBucketLocation", "s3:GetBucketLocation"},
      {"GetBucketVersioning", "s3:GetBucketVersioning"},
      {"PutBucketVersioning", "s3:PutBucketVersioning"},
      {"PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"},
      {"GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"},
      {"PutObjectRetention", "s3:PutObjectRetention"},
      {"GetObjectRetention", "s3:GetObjectRetention"},
      {"PutObjectLegalHold", "s3:PutObjectLegalHold"},
      {"GetObjectLegalHold", "s3:GetObjectLegalHold"},
      {"ListMultipartUploads", "s3:ListBucketMultipartUploads"},
      {"GetBucketAcl", "s3:GetBucketAcl"},
      {"GetObjectAcl", "s3:GetObjectAcl"},
      {"DeleteObjects", "s3:DeleteObject"},
      {"PutObject", "s3:PutObject"},
      {"PostObject", "s3:PutObject"},
      {"CopyObject", "s3:PutObject"},
      {"CreateMultipartUpload", "s3:PutObject"},
      {"UploadPart", "s3:PutObject"},
      {"UploadPartCopy", "s3:PutObject"},
      {"CompleteMultipartUpload", "s3:PutObject"},
      {"AbortMultipartUpload", "s3:AbortMultipartUpload"},
      {"ListParts", "s3:ListMultipartUploadParts"},
      {"GetObject", "s3:GetObject"},
      {"HeadObject", "s3:GetObject"},
      {"DeleteObject", "s3:DeleteObject"},
      {"PutObjectTagging", "s3:PutObjectTagging"},
      {"GetObjectTagging", "s3:GetObjectTagging"},
      {"DeleteObjectTagging", "s3:DeleteObjectTagging"},
      {"PutBucketTagging", "s3:PutBucketTagging"},
      {"DeleteBucketTagging", "s3:PutBucketTagging"},
      {"GetBucketTagging", "s3:GetBucketTagging"},
      {"PutBucketCors", "s3:PutBucketCORS"},
      {"DeleteBucketCors", "s3:PutBucketCORS"},
      {"GetBucketCors", "s3:GetBucketCORS"},
      {"PutBucketPolicy", "s3:PutBucketPolicy"},
      {"GetBucketPolicy", "s3:GetBucketPolicy"},
      {"DeleteBucketPolicy", "s3:DeleteBucketPolicy"},
      {"GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"},
      {"PutBucketLifecycle", "s3:PutLifecycleConfiguration"},
      {"DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"},
      {"GetBucketLifecycle", "s3:GetLifecycleConfiguration"},
      {"PutBucketAcl", "s3:PutBucketAcl"},
      {"PutObjectAcl", "s3:PutObjectAcl"},
      {"PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"},
      {"DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"},
      {"GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"},
      {"PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"},
      {"DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"},
      {"GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"},
  };
  return m;
}

// What an ACL must grant for an action: the permission, and whether the
// bucket's grant counts (an object's own grant always does, for object actions;
// a bucket's READ lets its grantee read the objects too, as public-read has
// always meant here).
struct AclNeed {
  Permission perm;
  bool bucket;
  bool object;
};
const std::map<std::string_view, AclNeed>& acl_needs() {
  using P = Permission;
  static const std::map<std::string_view, AclNeed> m = {
      {"s3:ListBucket", {P::kRead, true, false}},
      {"s3:ListBucketMultipartUploads", {P::kRead, true, false}},
      {"s3:ListBucketVersions", {P::kRead, true, false}},
      {"s3:ListMultipartUploadParts", {P::kRead, true, false}},
      {"s3:GetBucketLocation", {P::kRead, true, false}},
      {"s3:GetObject", {P::kRead, true, true}},
      {"s3:GetObjectVersion", {P::kRead, true, true}},
      {"s3:PutObject", {P::kWrite, true, false}},
      {"s3:DeleteObject", {P::kWrite, true, false}},
      {"s3:DeleteObjectVersion", {P::kWrite, true, false}},
      {"s3:AbortMultipartUpload", {P::kWrite, true, false}},
      {"s3:GetBucketAcl", {P::kReadAcp, true, false}},
      {"s3:PutBucketAcl", {P::kWriteAcp, true, false}},
      {"s3:GetObjectAcl", {P::kReadAcp, false, true}},
      {"s3:PutObjectAcl", {P::kWriteAcp, false, true}},
      {"s3:GetObjectVersionAcl", {P::kReadAcp, false, true}},
      {"s3:PutObjectVersionAcl", {P::kWriteAcp, false, true}},
  };
  return m;
}

bool is_policy_action(std::string_view a) {
  return a == "s3:PutBucketPolicy" || a == "s3:GetBucketPolicy" || a == "s3:DeleteBucketPolicy";
}

Status access_denied() { return make_error(ErrorCode::kPermissionDenied, "Access Denied"); }

}  // namespace

std::string_view S3Handler::action_of(std::string_view op) {
  auto it = actions().find(op);
  return it == actions().end() ? std::string_view() : it->second;
}

Result<std::shared_ptr<const BucketPolicy>> S3Handler::policy_of(const gateway::NamespaceInfo& ns) const {
  auto doc = gw_->get_namespace_config(ns.ref, kPolicyItem);
  if (doc.code() == ErrorCode::kNotFound) return std::shared_ptr<const BucketPolicy>();
  if (!doc) return doc.status();
  {
    std::lock_guard lock(policy_mu_);
    auto it = policies_.find(ns.ref.ns);
    if (it != policies_.end() && it->second.first == *doc) return it->second.second;
  }
  KISEKI_ASSIGN_OR_RETURN(BucketPolicy p, BucketPolicy::parse(*doc, ns.name));
  auto shared = std::make_shared<const BucketPolicy>(std::move(p));
  std::lock_guard lock(policy_mu_);
  if (policies_.size() >= 1024) policies_.clear();  // a bound; parsing again is cheap
  policies_[ns.ref.ns] = {std::move(*doc), shared};
  return shared;
}

Result<S3Handler::BucketAccess> S3Handler::access_of(const gateway::NamespaceInfo& ns) const {
  BucketAccess a;
  auto acl = gw_->get_namespace_config(ns.ref, kAclItem);
  if (acl) {
    KISEKI_ASSIGN_OR_RETURN(a.acl, decode_acl(*acl));
  } else if (acl.code() != ErrorCode::kNotFound) {
    return acl.status();
  } else if (ns.public_read) {
    a.acl = {{Grant::Kind::kAllUsers, "", Permission::kRead}};  // created public-read
  }
  auto pab = gw_->get_namespace_config(ns.ref, kPublicAccessBlockItem);
  if (pab) {
    KISEKI_ASSIGN_OR_RETURN(a.pab, parse_public_access_block(*pab));
  } else if (pab.code() != ErrorCode::kNotFound) {
    return pab.status();
  }
  auto own = gw_->get_namespace_config(ns.ref, kOwnershipItem);
  if (!own && own.code() != ErrorCode::kNotFound) return own.status();
  if (own) a.ownership = *own;
  return a;
}

Status S3Handler::check_acl_write(const gateway::NamespaceInfo& ns, const Acl& acl) const {
  KISEKI_ASSIGN_OR_RETURN(BucketAccess a, access_of(ns));
  if (a.acls_disabled() && !acl.empty())
    return invalid_argument("AccessControlListNotSupported: The bucket does not allow ACLs");
  if (a.pab.block_public_acls && acl_is_public(acl)) return access_denied();
  return Status::ok();
}

bool S3Handler::acl_grants(Ctx& c, const gateway::NamespaceInfo& ns, const BucketAccess& a, std::string_view action,
                           std::string_view key) const {
  if (a.acls_disabled()) return false;
  auto need = acl_needs().find(action);
  if (need == acl_needs().end()) return false;
  std::string account = c.auth.anonymous ? "" : std::to_string(c.auth.tenant);
  bool ignore = a.pab.ignore_public_acls;
  if (need->second.bucket && acl_allows(a.acl, c.auth.anonymous, account, need->second.perm, ignore)) return true;
  if (!need->second.object || key.empty()) return false;
  auto head = gw_->head_object(ns.ref, key);
  if (!head) return false;
  auto stored = head->meta.headers.find(kAclHeader);
  if (stored == head->meta.headers.end()) return false;
  auto acl = decode_acl(stored->second);
  return acl && acl_allows(*acl, c.auth.anonymous, account, need->second.perm, ignore);
}

Status S3Handler::authorize(Ctx& c, const gateway::NamespaceInfo& ns, std::string_view action,
                            std::string_view key) const {
  // The owner is the tenant's own key; its users have what policies and ACLs give them.
  bool owner = !c.auth.anonymous && ns.ref.tenant == c.auth.tenant && c.auth.user.empty();
  if (is_policy_action(action)) return owner ? Status::ok() : access_denied();
  KISEKI_ASSIGN_OR_RETURN(auto policy, policy_of(ns));
  PolicyDecision d = PolicyDecision::kNone;
  if (policy) {
    PolicyRequest r;
    r.action = action.empty() ? "s3:*" : std::string(action);  // an operation without one: owner only
    r.resource = "arn:aws:s3:::" + ns.name + (key.empty() ? "" : "/" + std::string(key));
    r.anonymous = c.auth.anonymous;
    if (!c.auth.anonymous) r.account = std::to_string(c.auth.tenant);
    r.user = c.auth.user;
    r.context = [&](std::string_view k) { return condition_values(c, ns, key, k); };
    d = policy->evaluate(r);
  }
  if (d == PolicyDecision::kDeny) return access_denied();
  bool allowed = owner;
  if (!allowed && !action.empty()) {
    KISEKI_ASSIGN_OR_RETURN(BucketAccess a, access_of(ns));
    allowed = (d == PolicyDecision::kAllow && !(a.pab.restrict_public_buckets && policy->is_public())) ||
              acl_grants(c, ns, a, action, key);
  }
  if (!allowed) return access_denied();
  // A write that sets the new object's ACL.
  if (action == "s3:PutObject") {
    KISEKI_ASSIGN_OR_RETURN(auto acl, acl_from_headers(c.req));
    if (acl) KISEKI_TRY(check_acl_write(ns, *acl));
  }
  return Status::ok();
}

// The request's values of a policy condition key (keys in lower case, but a
// tag's name after the '/').
std::optional<std::vector<std::string>> S3Handler::condition_values(Ctx& c, const gateway::NamespaceInfo& ns,
                                                                    std::string_view key, std::string_view k) const {
  using V = std::vector<std::string>;
  const S3Request& q = c.req;
  auto header = [&](const char* h) -> std::optional<V> {
    const std::string* v = q.header(h);
    return v ? std::optional<V>(V{*v}) : std::nullopt;
  };
  auto param = [&](const char* p) -> std::optional<V> {
    const std::string* v = q.param(p);
    return v ? std::optional<V>(V{*v}) : std::nullopt;
  };
  if (k == "aws:sourceip") return V{q.remote_ip};
  if (k == "aws:securetransport") return V{opts_.https ? "true" : "false"};
  if (k == "aws:currenttime") return V{iso8601(c.now)};
  if (k == "aws:epochtime") return V{std::to_string(c.now / 1'000'000'000)};
  if (k == "aws:useragent") return header("user-agent");
  if (k == "aws:referer") return header("referer");
  if (k == "aws:principaltype") return V{c.auth.anonymous ? "Anonymous" : c.auth.user.empty() ? "Account" : "User"};
  if (k == "aws:username") {
    if (c.auth.user.empty()) return std::nullopt;
    return V{c.auth.user};
  }
  if (k == "aws:principalaccount") {
    if (c.auth.anonymous) return std::nullopt;
    return V{std::to_string(c.auth.tenant)};
  }
  if (k == "s3:prefix") return param("prefix");
  if (k == "s3:delimiter") return param("delimiter");
  if (k == "s3:max-keys") return param("max-keys");
  if (k == "s3:authtype") {
    if (c.op == std::string_view("PostObject")) return V{"POST"};
    if (c.auth.anonymous) return std::nullopt;
    return V{q.header("authorization") ? "REST-HEADER" : "REST-QUERY-STRING"};
  }
  if (k == "s3:signatureversion") {
    if (c.auth.anonymous) return std::nullopt;
    const std::string* a = q.header("authorization");
    bool v4 = a ? a->starts_with("AWS4-") : q.has_param("X-Amz-Signature");
    return V{v4 ? "AWS4-HMAC-SHA256" : "AWS"};
  }
  if (k.starts_with("s3:x-amz-")) return header(std::string(k.substr(3)).c_str());
  if (k.starts_with("s3:existingobjecttag/")) {
    if (key.empty()) return std::nullopt;
    auto head = gw_->head_object(ns.ref, key);
    if (!head) return std::nullopt;
    auto t = head->meta.headers.find(kTagsHeader);
    if (t == head->meta.headers.end()) return std::nullopt;
    auto tags = parse_tag_header(t->second);
    if (!tags) return std::nullopt;
    for (const auto& [name, value] : *tags)
      if (name == k.substr(21)) return V{value};
    return std::nullopt;
  }
  if (k.starts_with("s3:requestobjecttag/") || k == "s3:requestobjecttagkeys") {
    const std::string* h = q.header(kTagsHeader);
    if (!h) return std::nullopt;
    auto tags = parse_tag_header(*h);
    if (!tags) return std::nullopt;
    V out;
    for (const auto& [name, value] : *tags) {
      if (k == "s3:requestobjecttagkeys") out.push_back(name);
      else if (name == k.substr(20)) out.push_back(value);
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

Result<gateway::NamespaceInfo> S3Handler::find_bucket(Ctx& c, const std::string& name) const {
  // The caller's own bucket (cached); else whoever's it is.
  if (!c.auth.anonymous)
    if (auto own = gw_->find_namespace(c.auth.tenant, name)) return own;
  return gw_->find_bucket(name);
}

// The source of a copy (a version of it, if named), if the caller may read it.
Result<gateway::NsRef> S3Handler::copy_source(Ctx& c, const std::string& bucket, const std::string& key,
                                              const std::string& version) {
  KISEKI_ASSIGN_OR_RETURN(gateway::NamespaceInfo ns, find_bucket(c, bucket));
  KISEKI_TRY(authorize(c, ns, version.empty() ? "s3:GetObject" : "s3:GetObjectVersion", key));
  return ns.ref;
}

// An object request that names a version (?versionId=) is its version action, as
// in S3: a right to read objects is not one to read every older version of them.
std::string_view S3Handler::request_action(const Ctx& c) {
  std::string_view action = action_of(c.op);
  if (c.req.key.empty() || !c.req.param("versionId")) return action;
  static const std::map<std::string_view, std::string_view> of_version = {
      {"s3:GetObject", "s3:GetObjectVersion"},
      {"s3:DeleteObject", "s3:DeleteObjectVersion"},
      {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
      {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"},
      {"s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"},
      {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
      {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"},
  };
  auto it = of_version.find(action);
  return it == of_version.end() ? action : it->second;
}

// The bucket a request names, if the caller may do the request's operation on it.
Result<gateway::NsRef> S3Handler::bucket_ref(Ctx& c) {
  KISEKI_ASSIGN_OR_RETURN(gateway::NamespaceInfo ns, find_bucket(c, c.req.bucket));
  KISEKI_TRY(authorize(c, ns, request_action(c), c.req.key));
  return ns.ref;
}

}  // namespace kiseki::s3
