// S3 request handling: authenticate, route to one operation, call the Gateway
// once (or a few times), map the Status in one place (errors.h), reply once.
#pragma once

#include "common/clock.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "gateway/gateway.h"
#include "protocols/s3/access_settings.h"
#include "protocols/s3/acl.h"
#include "protocols/s3/auth.h"
#include "protocols/s3/dates.h"
#include "protocols/s3/errors.h"
#include "protocols/s3/object_lock.h"
#include "protocols/s3/request.h"
#include "protocols/s3/tagging.h"

namespace kiseki::s3 {

struct CorsRule;
class BucketPolicy;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A GET streams the object's bytes [offset, offset + length) after the header.
  std::optional<gateway::ObjectHandle> object;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool head = false;  // HEAD: Content-Length of the object, no body
  void set(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// The request body as the connection provides it.
struct RequestBody {
  gateway::ByteSource raw;        // streaming, exactly Content-Length bytes
  uint64_t content_length = 0;
};

struct S3Options {
  std::string region = "us-east-1";
  std::string domain;  // virtual-host style under this domain ("" = path style only)
  uint64_t max_object_bytes = 5ull << 40;
  uint64_t max_single_put_bytes = 5ull << 30;
  const Clock* clock = &SystemClock::instance();  // request times, SigV4 skew
  bool https = false;  // the scheme of the URLs replies name (POST object's Location)
};

class S3Handler {
 public:
  S3Handler(gateway::Gateway* gw, S3Options opts);
  Response handle(S3Request& req, RequestBody& body);
  const S3Options& options() const { return opts_; }

  // Operation names, for metrics and logs.
  struct Op;

 private:
  struct Ctx;
  Response dispatch(Ctx& c);
  // service and buckets
  Response list_buckets(Ctx& c);
  Response create_bucket(Ctx& c);
  Response delete_bucket(Ctx& c);
  Response head_bucket(Ctx& c);
  Response bucket_location(Ctx& c);
  Response list_objects(Ctx& c, bool v2);
  // versioning.cc
  Response put_bucket_versioning(Ctx& c);
  Response get_bucket_versioning(Ctx& c);
  Response list_object_versions(Ctx& c);
  // The object a request reads: the version it names (?versionId=), or the
  // current one. NoSuchVersion / InvalidArgument as S3 answers them.
  Result<gateway::ObjectHandle> open_named_version(gateway::NsRef ns, const std::string& key,
                                                   const std::string* version_id) const;
  // object_lock_ops.cc
  Response put_object_lock_config(Ctx& c);
  Response get_object_lock_config(Ctx& c);
  Response put_object_lock_state(Ctx& c, bool legal_hold);
  Response get_object_lock_state(Ctx& c, bool legal_hold);
  Result<std::optional<LockConfig>> lock_config_of(gateway::NsRef ns) const;
  // The lock a write asks for (x-amz-object-lock-*), or the bucket's default
  // retention, into meta->lock.
  Status lock_for_write(const S3Request& q, int64_t now, gateway::NsRef ns, gateway::ObjectMeta* meta) const;
  // x-amz-bypass-governance-retention: true, by a caller who may.
  bool bypass_governance(Ctx& c, gateway::NsRef ns, std::string_view key);
  // Tags and ACLs change in place only on the current version: NotImplemented
  // for a request (?versionId=) that names another.
  Status only_current_version(gateway::NsRef ns, const S3Request& q) const;
  Response list_uploads(Ctx& c);
  // ACLs and access settings (acl_ops.cc)
  Response get_acl(Ctx& c);
  Response put_acl(Ctx& c);
  Response put_public_access_block(Ctx& c);
  Response get_public_access_block(Ctx& c);
  Response delete_public_access_block(Ctx& c);
  Response put_ownership_controls(Ctx& c);
  Response get_ownership_controls(Ctx& c);
  Response delete_ownership_controls(Ctx& c);
  Response delete_objects(Ctx& c);
  // bucket configuration (bucket_config.cc)
  Response put_bucket_tagging(Ctx& c);
  Response get_bucket_tagging(Ctx& c);
  Response delete_bucket_tagging(Ctx& c);
  Response put_bucket_cors(Ctx& c);
  Response get_bucket_cors(Ctx& c);
  Response delete_bucket_cors(Ctx& c);
  Response preflight(Ctx& c);
  Response config_document(Ctx& c, std::string_view item, const S3Error& missing,
                           const char* content_type = "application/xml");
  Response drop_config(Ctx& c, std::string_view item);
  Response put_bucket_lifecycle(Ctx& c);
  Response get_bucket_lifecycle(Ctx& c);
  Response delete_bucket_lifecycle(Ctx& c);
  Response put_bucket_policy(Ctx& c);
  Response get_bucket_policy(Ctx& c);
  Response delete_bucket_policy(Ctx& c);
  Response get_bucket_policy_status(Ctx& c);
  Result<std::vector<CorsRule>> cors_rules(const std::string& bucket) const;
  void add_cors_headers(const S3Request& req, Response& r) const;
  // objects
  Response put_object(Ctx& c);
  Response post_object(Ctx& c);  // a browser's form upload (post_object.cc)
  Response copy_object(Ctx& c);
  Response put_object_tagging(Ctx& c);
  Response get_object_tagging(Ctx& c);
  Response delete_object_tagging(Ctx& c);
  Response set_object_tags(Ctx& c, const TagSet& tags);
  Response get_object(Ctx& c, bool head);
  Response delete_object(Ctx& c);
  // multipart
  Response create_upload(Ctx& c);
  Response upload_part(Ctx& c);
  Response upload_part_copy(Ctx& c);
  Response complete_upload(Ctx& c);
  Response abort_upload(Ctx& c);
  Response list_parts(Ctx& c);

  Response error(Ctx& c, const S3Error& e);
  Response error(Ctx& c, const Status& st, Subject s);
  Result<std::string> read_small_body(Ctx& c, size_t limit);
  // authorize.cc: the bucket a request names if the caller may do the
  // request's operation (c.op) on it.
  Result<gateway::NsRef> bucket_ref(Ctx& c);
  Result<gateway::NamespaceInfo> find_bucket(Ctx& c, const std::string& name) const;
  Result<gateway::NsRef> copy_source(Ctx& c, const std::string& bucket, const std::string& key,
                                     const std::string& version);
  Status authorize(Ctx& c, const gateway::NamespaceInfo& ns, std::string_view action, std::string_view key) const;
  // The bucket's grants and access settings.
  struct BucketAccess {
    Acl acl;
    PublicAccessBlock pab;
    std::string ownership;  // "" when not set
    bool acls_disabled() const { return ownership == "BucketOwnerEnforced"; }
  };
  Result<BucketAccess> access_of(const gateway::NamespaceInfo& ns) const;
  bool acl_grants(Ctx& c, const gateway::NamespaceInfo& ns, const BucketAccess& a, std::string_view action,
                  std::string_view key) const;
  // Whether a request may give a bucket or an object `acl`.
  Status check_acl_write(const gateway::NamespaceInfo& ns, const Acl& acl) const;
  static std::string_view action_of(std::string_view op);
  // The action a request is: its operation's, or the version action of it.
  static std::string_view request_action(const Ctx& c);
  Result<std::shared_ptr<const BucketPolicy>> policy_of(const gateway::NamespaceInfo& ns) const;
  std::optional<std::vector<std::string>> condition_values(Ctx& c, const gateway::NamespaceInfo& ns,
                                                           std::string_view key, std::string_view k) const;

  gateway::Gateway* gw_;
  S3Options opts_;
  // Parsed bucket policies by namespace, with the document they came from.
  mutable std::mutex policy_mu_;
  mutable std::map<NamespaceId, std::pair<std::string, std::shared_ptr<const BucketPolicy>>> policies_;
  struct Metrics;
  std::shared_ptr<Metrics> metrics_;
};

class XmlWriter;
// A 200 reply carrying the XML document `x` built, or `document`.
Response xml_response(XmlWriter& x);
Response xml_response(std::string document);


// S3 bucket naming rules (3..63, lower case, digits, '.', '-').
bool valid_bucket_name(std::string_view name);

}  // namespace kiseki::s3
