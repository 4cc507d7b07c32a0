// A bucket's configuration documents (ADR 0011): tagging and CORS, kept as the
// namespace's configuration items; CORS preflight and the CORS headers of
// every reply to a request with an Origin.
#include "common/text.h"
#include "protocols/s3/cors.h"
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/lifecycle.h"
#include "protocols/s3/policy.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

// "a, b,c" → {"a", "b", "c"}
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view part = trim_blanks(s.substr(pos, comma - pos));
    if (!part.empty()) out.emplace_back(part);
    pos = comma + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The headers a matching rule adds; `requested`: a preflight's headers.
void cors_headers(Response& r, const CorsRule& rule, const std::string& origin,
                  const std::vector<std::string>* requested) {
  bool any = std::find(rule.origins.begin(), rule.origins.end(), "*") != rule.origins.end();
  r.set("Access-Control-Allow-Origin", any ? "*" : origin);
  if (!any) r.set("Access-Control-Allow-Credentials", "true");
  r.set("Access-Control-Allow-Methods", join(rule.methods));
  if (requested && !requested->empty()) r.set("Access-Control-Allow-Headers", join(*requested));
  if (!rule.expose.empty()) r.set("Access-Control-Expose-Headers", join(rule.expose));
  if (rule.max_age) r.set("Access-Control-Max-Age", std::to_string(*rule.max_age));
  r.set("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
}

S3Error forbidden(std::string m) { return make_s3_error(403, "AccessForbidden", "CORSResponse: " + std::move(m)); }

}  // namespace

// A configuration document as stored, or `missing` when the bucket has none.
Response S3Handler::config_document(Ctx& c, std::string_view item, const S3Error& missing, const char* content_type) {
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto doc = gw_->get_namespace_config(*ns, item);
  if (doc.code() == ErrorCode::kNotFound) return error(c, missing);
  if (!doc) return error(c, doc.status(), Subject::kBucket);
  Response r;
  r.body = std::move(*doc);
  r.set("Content-Type", content_type);
  return r;
}

// Delete* of a configuration document: 204, whether there was one or not.
Response S3Handler::drop_config(Ctx& c, std::string_view item) {
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  Status st = gw_->put_namespace_config(*ns, item, "");
  if (!st) return error(c, st, Subject::kBucket);
  return no_content();
}

// ---- tagging

Response S3Handler::put_bucket_tagging(Ctx& c) {
  c.op = "PutBucketTagging";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto tags = parse_tagging_xml(*body, kMaxBucketTags);
  if (!tags) return error(c, tags.status(), Subject::kBucket);
  Status st = gw_->put_namespace_config(*ns, kTaggingItem, encode_tags(*tags));
  if (!st) return error(c, st, Subject::kBucket);
  return no_content();
}

Response S3Handler::get_bucket_tagging(Ctx& c) {
  c.op = "GetBucketTagging";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto doc = gw_->get_namespace_config(*ns, kTaggingItem);
  if (doc.code() == ErrorCode::kNotFound)
    return error(c, make_s3_error(404, "NoSuchTagSet", "The TagSet does not exist"));
  if (!doc) return error(c, doc.status(), Subject::kBucket);
  auto tags = parse_tag_header(*doc, kMaxBucketTags);
  if (!tags) return error(c, tags.status(), Subject::kBucket);
  return xml_response(tagging_xml(*tags));
}

Response S3Handler::delete_bucket_tagging(Ctx& c) {
  c.op = "DeleteBucketTagging";
  return drop_config(c, kTaggingItem);
}

// ---- lifecycle

Response S3Handler::put_bucket_lifecycle(Ctx& c) {
  c.op = "PutBucketLifecycle";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 1 << 20);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto rules = parse_lifecycle_xml(*body);
  if (!rules) return error(c, rules.status(), Subject::kBucket);
  std::string doc = lifecycle_xml(*rules);
  if (doc.size() > (64 << 10))
    return error(c, make_s3_error(400, "InvalidRequest", "the lifecycle configuration is larger than 64 KiB"));
  Status st = gw_->put_namespace_config(*ns, kLifecycleItem, doc);
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_bucket_lifecycle(Ctx& c) {
  c.op = "GetBucketLifecycle";
  return config_document(c, kLifecycleItem,
                         make_s3_error(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"));
}

Response S3Handler::delete_bucket_lifecycle(Ctx& c) {
  c.op = "DeleteBucketLifecycle";
  return drop_config(c, kLifecycleItem);
}

// ---- policy

Response S3Handler::put_bucket_policy(Ctx& c) {
  c.op = "PutBucketPolicy";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 20 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto policy = BucketPolicy::parse(*body, c.req.bucket);
  if (!policy) return error(c, policy.status(), Subject::kBucket);
  if (policy->is_public()) {
    auto info = gw_->get_namespace(ns->ns);
    auto access = info ? access_of(*info) : Result<BucketAccess>(info.status());
    if (!access) return error(c, access.status(), Subject::kBucket);
    if (access->pab.block_public_policy) return error(c, make_s3_error(403, "AccessDenied", "Access Denied: the "
                                                                       "bucket's public access block refuses public policies"));
  }
  Status st = gw_->put_namespace_config(*ns, kPolicyItem, *body);
  if (!st) return error(c, st, Subject::kBucket);
  return no_content();
}

Response S3Handler::get_bucket_policy(Ctx& c) {
  c.op = "GetBucketPolicy";
  return config_document(c, kPolicyItem, make_s3_error(404, "NoSuchBucketPolicy", "The bucket policy does not exist"),
                         "application/json");
}

Response S3Handler::delete_bucket_policy(Ctx& c) {
  c.op = "DeleteBucketPolicy";
  return drop_config(c, kPolicyItem);
}

Response S3Handler::get_bucket_policy_status(Ctx& c) {
  c.op = "GetBucketPolicyStatus";
  auto ns = find_bucket(c, c.req.bucket);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = authorize(c, *ns, action_of(c.op), ""); !st) return error(c, st, Subject::kBucket);
  auto policy = policy_of(*ns);
  if (!policy) return error(c, policy.status(), Subject::kBucket);
  if (!*policy) return error(c, make_s3_error(404, "NoSuchBucketPolicy", "The bucket policy does not exist"));
  XmlWriter x;
  x.open("PolicyStatus", true).leaf("IsPublic", (*policy)->is_public() ? "true" : "false").close("PolicyStatus");
  return xml_response(x);
}

// ---- CORS

Response S3Handler::put_bucket_cors(Ctx& c) {
  c.op = "PutBucketCors";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto rules = parse_cors_xml(*body);
  if (!rules) return error(c, rules.status(), Subject::kBucket);
  Status st = gw_->put_namespace_config(*ns, kCorsItem, cors_xml(*rules));
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_bucket_cors(Ctx& c) {
  c.op = "GetBucketCors";
  return config_document(c, kCorsItem,
                         make_s3_error(404, "NoSuchCORSConfiguration", "The CORS configuration does not exist"));
}

Response S3Handler::delete_bucket_cors(Ctx& c) {
  c.op = "DeleteBucketCors";
  return drop_config(c, kCorsItem);
}

Result<std::vector<CorsRule>> S3Handler::cors_rules(const std::string& bucket) const {
  KISEKI_ASSIGN_OR_RETURN(gateway::NamespaceInfo ns, gw_->find_bucket(bucket));
  KISEKI_ASSIGN_OR_RETURN(std::string doc, gw_->get_namespace_config(ns.ref, kCorsItem));
  return parse_cors_xml(doc);
}

// A browser asks before a cross-origin request: no credentials, the bucket's
// rules decide.
Response S3Handler::preflight(Ctx& c) {
  c.op = "PreflightCors";
  const std::string* origin = c.req.header("origin");
  const std::string* method = c.req.header("access-control-request-method");
  if (!origin || !method)
    return error(c, make_s3_error(400, "BadRequest",
                                  "Insufficient information: a preflight request needs the Origin and "
                                  "Access-Control-Request-Method headers"));
  auto rules = cors_rules(c.req.bucket);
  if (rules.code() == ErrorCode::kNotFound) {
    bool bucket = gw_->find_bucket(c.req.bucket).is_ok();
    return error(c, forbidden(bucket ? "CORS is not enabled for this bucket." : "Bucket not found."));
  }
  if (!rules) return error(c, rules.status(), Subject::kBucket);
  std::vector<std::string> requested = split_list(c.req.header_or("access-control-request-headers"));
  const CorsRule* rule = match_cors(*rules, *origin, *method, requested);
  if (!rule)
    return error(c, forbidden("This CORS request is not allowed: no rule of the bucket allows this origin, "
                              "method and these request headers."));
  Response r;
  cors_headers(r, *rule, *origin, &requested);
  return r;
}

// A reply to a request with an Origin carries what the first matching rule allows.
void S3Handler::add_cors_headers(const S3Request& req, Response& r) const {
  const std::string* origin = req.header("origin");
  if (!origin || req.bucket.empty() || req.method == "OPTIONS") return;
  auto rules = cors_rules(req.bucket);
  if (!rules) return;
  if (const CorsRule* rule = match_cors(*rules, *origin, req.method)) cors_headers(r, *rule, *origin, nullptr);
}

}  // namespace kiseki::s3
