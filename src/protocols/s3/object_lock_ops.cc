// Object lock through S3 (ADR 0012): the bucket's configuration, a version's
// retention and legal hold, the lock a write asks for, and the governance
// bypass. The Gateway's apply enforces locks for every protocol; this file
// speaks S3 about them.

#include "common/text.h"
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/object_lock.h"

namespace kiseki::s3 {

namespace {

Status invalid_bucket_state(std::string m) { return make_error(ErrorCode::kConflict, "InvalidBucketState: " + std::move(m)); }

}  // namespace

Result<std::optional<LockConfig>> S3Handler::lock_config_of(gateway::NsRef ns) const {
  auto doc = gw_->get_namespace_config(ns, kObjectLockItem);
  if (!doc) {
    if (doc.code() == ErrorCode::kNotFound) return std::optional<LockConfig>();
    return doc.status();
  }
  KISEKI_ASSIGN_OR_RETURN(LockConfig c, parse_lock_config(*doc));
  return std::optional<LockConfig>(c);
}

Status S3Handler::lock_for_write(const S3Request& q, int64_t now, gateway::NsRef ns, gateway::ObjectMeta* meta) const {
  const std::string* mode = q.header("x-amz-object-lock-mode");
  const std::string* until = q.header("x-amz-object-lock-retain-until-date");
  const std::string* hold = q.header("x-amz-object-lock-legal-hold");
  KISEKI_ASSIGN_OR_RETURN(auto config, lock_config_of(ns));
  if (!config) {
    if (mode || until || hold) return invalid_argument("InvalidRequest: Bucket is missing ObjectLockConfiguration");
    return Status::ok();
  }
  if (!mode != !until)
    return invalid_argument("x-amz-object-lock-mode and x-amz-object-lock-retain-until-date go together");
  ns::ObjectLock& l = meta->lock;
  if (mode) {
    auto m = parse_lock_mode(*mode);
    if (!m) return invalid_argument("Unknown wormMode directive.");
    if (!parse_iso8601(*until, &l.retain_until_ns)) return invalid_argument("The retain until date is not a date");
    if (l.retain_until_ns <= now) return invalid_argument("The retain until date must be in the future!");
    l.mode = *m;
  } else if (config->mode) {
    l.mode = *config->mode;
    l.retain_until_ns = config->default_until(now);
  }
  if (hold) {
    if (*hold != "ON" && *hold != "OFF") return invalid_argument("x-amz-object-lock-legal-hold is ON or OFF");
    l.legal_hold = *hold == "ON";
  }
  return Status::ok();
}

bool S3Handler::bypass_governance(Ctx& c, gateway::NsRef ns, std::string_view key) {
  if (ascii_lower(c.req.header_or("x-amz-bypass-governance-retention")) != "true") return false;
  auto info = gw_->get_namespace(ns.ns);
  return info && authorize(c, *info, "s3:BypassGovernanceRetention", key).is_ok();
}

Response S3Handler::put_object_lock_config(Ctx& c) {
  c.op = "PutObjectLockConfiguration";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto config = parse_lock_config(*body);
  if (!config) return error(c, config.status(), Subject::kBucket);
  auto versioning = gw_->get_namespace_config(*ns, gateway::kVersioningItem);
  if (!versioning || *versioning != "Enabled")
    return error(c, invalid_bucket_state("Object lock needs versioning enabled on the bucket"), Subject::kBucket);
  Status st = gw_->put_namespace_config(*ns, kObjectLockItem, lock_config_xml(*config));
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_object_lock_config(Ctx& c) {
  c.op = "GetObjectLockConfiguration";
  return config_document(c, kObjectLockItem,
                         make_s3_error(404, "ObjectLockConfigurationNotFoundError",
                                       "Object Lock configuration does not exist for this bucket"));
}

// PutObjectRetention and PutObjectLegalHold.
Response S3Handler::put_object_lock_state(Ctx& c, bool legal_hold) {
  c.op = legal_hold ? "PutObjectLegalHold" : "PutObjectRetention";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto config = lock_config_of(*ns);
  if (!config) return error(c, config.status(), Subject::kBucket);
  if (!*config) return error(c, make_s3_error(400, "InvalidRequest", "Bucket is missing Object Lock Configuration"));
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kObject);
  ns::ObjectLock lock;
  if (legal_hold) {
    auto on = parse_legal_hold(*body);
    if (!on) return error(c, on.status(), Subject::kObject);
    lock.legal_hold = *on;
  } else {
    auto r = parse_retention(*body);
    if (!r) return error(c, r.status(), Subject::kObject);
    if (r->mode != ns::LockMode::kNone && r->retain_until_ns <= c.now)
      return error(c, make_s3_error(400, "InvalidArgument", "The retain until date must be in the future!"));
    lock = *r;
  }
  const std::string* version = c.req.param("versionId");
  Status st = gw_->set_object_lock(*ns, c.req.key, version ? *version : "",
                                   legal_hold ? ns::kSetLegalHold : ns::kSetRetention, lock,
                                   !legal_hold && bypass_governance(c, *ns, c.req.key));
  if (!st) return error(c, st.code() == ErrorCode::kNotFound && version ? not_found(kNoSuchVersion) : st, Subject::kObject);
  return Response{};
}

Response S3Handler::get_object_lock_state(Ctx& c, bool legal_hold) {
  c.op = legal_hold ? "GetObjectLegalHold" : "GetObjectRetention";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto config = lock_config_of(*ns);
  if (!config) return error(c, config.status(), Subject::kBucket);
  if (!*config) return error(c, make_s3_error(400, "InvalidRequest", "Bucket is missing Object Lock Configuration"));
  auto h = open_named_version(*ns, c.req.key, c.req.param("versionId"));
  if (!h) return error(c, h.status(), Subject::kObject);
  if (h->info.delete_marker)
    return error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
  const ns::ObjectLock& l = h->info.meta.lock;
  if (legal_hold) return xml_response(legal_hold_xml(l.legal_hold));
  if (l.mode == ns::LockMode::kNone)
    return error(c, make_s3_error(404, "NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration"));
  return xml_response(retention_xml(l));
}

}  // namespace kiseki::s3
