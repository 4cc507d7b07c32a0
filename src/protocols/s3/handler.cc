// S3 dispatch, the service and bucket operations, and listings.
#include "common/text.h"
#include "protocols/s3/handler_ctx.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>

#include "common/logging.h"
#include "protocols/s3/body.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

using gateway::NsRef;

// Per operation: requests, errors by code, bytes in/out and latency.
struct S3Handler::Metrics {
  struct PerOp {
    Counter* requests;
    Counter* bytes_in;
    Counter* bytes_out;
    Histogram* seconds;
  };
  std::mutex mu;  // guards ops and errors (creation only; values are atomics)
  std::map<std::string, PerOp> ops;
  std::map<std::pair<std::string, std::string>, Counter*> errors;

  PerOp& op(const std::string& name) {
    std::lock_guard lock(mu);
    auto it = ops.find(name);
    if (it != ops.end()) return it->second;
    auto& m = MetricsRegistry::global();
    Labels l = {{"op", name}};
    return ops[name] = {m.counter("kiseki_s3_requests_total", "S3 requests by operation", l),
                        m.counter("kiseki_s3_bytes_in_total", "S3 request body bytes by operation", l),
                        m.counter("kiseki_s3_bytes_out_total", "S3 response body bytes by operation", l),
                        m.histogram("kiseki_s3_request_seconds", "S3 request latency by operation", l)};
  }
  Counter* error(const std::string& op, const std::string& code) {
    std::lock_guard lock(mu);
    auto& c = errors[{op, code}];
    if (!c)
      c = MetricsRegistry::global().counter("kiseki_s3_errors_total", "S3 error replies by operation and code",
                                            {{"op", op}, {"code", code}});
    return c;
  }
};

S3Handler::S3Handler(gateway::Gateway* gw, S3Options opts)
    : gw_(gw), opts_(std::move(opts)), metrics_(std::make_shared<Metrics>()) {}

Result<Listing> Listing::of(const S3Request& q) {
  Listing l;
  const std::string* e = q.param("encoding-type");
  if (e && *e != "url") return invalid_argument("Invalid Encoding Method specified in Request");
  l.url = e != nullptr;
  l.request.prefix = q.param("prefix") ? *q.param("prefix") : "";
  l.request.delimiter = q.param("delimiter") ? *q.param("delimiter") : "";
  if (const std::string* mk = q.param("max-keys")) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(mk->data(), mk->data() + mk->size(), v);
    if (ec != std::errc() || p != mk->data() + mk->size())
      return invalid_argument("Provided max-keys not an integer or within integer range");
    l.request.max_keys = static_cast<uint32_t>(std::min<uint64_t>(v, 1000));
  }
  return l;
}

Status Listing::check_key(std::string_view key) const {
  if (url || xml_representable(key)) return Status::ok();
  return invalid_argument("Some keys hold characters that XML 1.0 cannot carry: list with encoding-type=url");
}

Status Listing::check(const gateway::ListResult& r) const {
  for (const auto& o : r.objects) KISEKI_TRY(check_key(o.key));
  for (const auto& p : r.common_prefixes) KISEKI_TRY(check_key(p));
  return Status::ok();
}

bool valid_bucket_name(std::string_view n) {
  if (n.size() < 3 || n.size() > 63) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(n.front()) || !alnum(n.back())) return false;
  if (n.find("..") != std::string_view::npos) return false;
  int dots = 0, digits_only = 1;
  for (char c : n) {
    if (c == '.') ++dots;
    else if (!(c >= '0' && c <= '9')) digits_only = 0;
  }
  return !(dots == 3 && digits_only);  // not an IP address
}

// ---- plumbing

Response xml_response(std::string document) {
  Response r;
  r.body = std::move(document);
  r.set("Content-Type", "application/xml");
  return r;
}

Response xml_response(XmlWriter& x) { return xml_response(x.take()); }

Response S3Handler::error(Ctx& c, const S3Error& e) {
  Response r;
  r.status = e.http_status;
  if (c.req.method != "HEAD") {
    r.body = error_xml(e, c.req.path, c.req.request_id);
    r.set("Content-Type", "application/xml");
  }
  metrics_->error(c.op, e.code)->inc();
  return r;
}

Response S3Handler::error(Ctx& c, const Status& st, Subject s) { return error(c, s3_error(st, s)); }

Result<std::string> S3Handler::read_small_body(Ctx& c, size_t limit) {
  if (c.body.content_length > limit) return invalid_argument("MalformedXML: request body too large");
  auto reader = BodyReader::make(c.req, c.auth, c.body.raw);
  if (!reader) return reader.status();
  std::string out;
  char buf[16384];
  for (;;) {
    KISEKI_ASSIGN_OR_RETURN(size_t n, (*reader)->read({reinterpret_cast<uint8_t*>(buf), sizeof(buf)}));
    if (n == 0) break;
    if (out.size() + n > limit) return invalid_argument("MalformedXML: request body too large");
    out.append(buf, n);
  }
  c.bytes_in += out.size();
  return out;
}

Response S3Handler::handle(S3Request& req, RequestBody& body) {
  auto t0 = std::chrono::steady_clock::now();
  Ctx c{req, body, {}, "Unknown", opts_.clock->now_ns()};
  Response r;
  AuthOutcome a = authenticate(req, *gw_, c.now);
  if (a.error) {
    c.op = "Auth";
    r = error(c, *a.error);
  } else {
    c.auth = std::move(a.result);
    r = dispatch(c);
  }
  add_cors_headers(req, r);
  r.set("x-amz-request-id", req.request_id);
  r.set("x-amz-id-2", req.request_id);
  r.set("Server", "Kiseki");
  auto& m = metrics_->op(c.op);
  m.requests->inc();
  m.bytes_in->inc(c.bytes_in);
  m.bytes_out->inc(r.object ? r.length : r.body.size());
  m.seconds->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return r;
}

Response S3Handler::dispatch(Ctx& c) {
  S3Request& q = c.req;
  const std::string& m = q.method;
  if (m == "OPTIONS" && !q.bucket.empty()) return preflight(c);
  if (q.bucket.empty()) {
    if (m == "GET") return list_buckets(c);
    c.op = "Service";
    return error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
  }
  if (q.key.empty()) {
    if (m == "PUT") {
      if (q.has_param("tagging")) return put_bucket_tagging(c);
      if (q.has_param("cors")) return put_bucket_cors(c);
      if (q.has_param("policy")) return put_bucket_policy(c);
      if (q.has_param("acl")) return put_acl(c);
      if (q.has_param("lifecycle")) return put_bucket_lifecycle(c);
      if (q.has_param("publicAccessBlock")) return put_public_access_block(c);
      if (q.has_param("ownershipControls")) return put_ownership_controls(c);
      if (q.has_param("versioning")) return put_bucket_versioning(c);
      if (q.has_param("object-lock")) return put_object_lock_config(c);
      for (const char* sub : {"website", "encryption", "logging", "notification",
                              "replication"})
        if (q.has_param(sub)) {
          c.op = "PutBucketSubresource";
          return error(c, make_s3_error(501, "NotImplemented", std::string("PUT ?") + sub + " is not implemented"));
        }
      return create_bucket(c);
    }
    if (m == "DELETE") {
      if (q.has_param("tagging")) return delete_bucket_tagging(c);
      if (q.has_param("cors")) return delete_bucket_cors(c);
      if (q.has_param("policy")) return delete_bucket_policy(c);
      if (q.has_param("publicAccessBlock")) return delete_public_access_block(c);
      if (q.has_param("ownershipControls")) return delete_ownership_controls(c);
      if (q.has_param("lifecycle")) return delete_bucket_lifecycle(c);
      // A subresource's DELETE never reaches DeleteBucket.
      for (const char* sub : {"website", "encryption", "replication", "analytics", "metrics",
                              "inventory", "intelligent-tiering"})
        if (q.has_param(sub)) {
          c.op = "DeleteBucketSubresource";
          return error(c, make_s3_error(501, "NotImplemented", std::string("DELETE ?") + sub + " is not implemented"));
        }
      return delete_bucket(c);
    }
    if (m == "HEAD") return head_bucket(c);
    if (m == "POST" && q.has_param("delete")) return delete_objects(c);
    if (m == "POST" && q.query.empty()) return post_object(c);
    if (m == "GET") {
      if (q.has_param("location")) return bucket_location(c);
      if (q.has_param("versioning")) return get_bucket_versioning(c);
      if (q.has_param("uploads")) return list_uploads(c);
      if (q.has_param("acl")) return get_acl(c);
      if (q.has_param("tagging")) return get_bucket_tagging(c);
      if (q.has_param("cors")) return get_bucket_cors(c);
      if (q.has_param("policy")) return get_bucket_policy(c);
      if (q.has_param("policyStatus")) return get_bucket_policy_status(c);
      if (q.has_param("publicAccessBlock")) return get_public_access_block(c);
      if (q.has_param("ownershipControls")) return get_ownership_controls(c);
      if (q.has_param("lifecycle")) return get_bucket_lifecycle(c);
      if (q.has_param("versions")) return list_object_versions(c);
      if (q.has_param("object-lock")) return get_object_lock_config(c);
      for (const char* sub : {"website", "encryption", "logging", "notification",
                              "replication", "requestPayment"})
        if (q.has_param(sub)) {
          c.op = "GetBucketSubresource";
          return error(c, make_s3_error(501, "NotImplemented", std::string("GET ?") + sub + " is not implemented"));
        }
      const std::string* lt = q.param("list-type");
      return list_objects(c, lt && *lt == "2");
    }
    c.op = "Bucket";
    return error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
  }
  bool upload = q.has_param("uploadId");
  if (m == "PUT") {
    if (upload || q.has_param("partNumber")) return q.header("x-amz-copy-source") ? upload_part_copy(c) : upload_part(c);
    if (q.has_param("tagging")) return put_object_tagging(c);
    if (q.has_param("acl")) return put_acl(c);
    if (q.has_param("retention")) return put_object_lock_state(c, false);
    if (q.has_param("legal-hold")) return put_object_lock_state(c, true);
    return q.header("x-amz-copy-source") ? copy_object(c) : put_object(c);
  }
  if (m == "GET" && q.has_param("acl")) return get_acl(c);
  if (m == "GET" && q.has_param("tagging")) return get_object_tagging(c);
  if (m == "GET" && q.has_param("retention")) return get_object_lock_state(c, false);
  if (m == "GET" && q.has_param("legal-hold")) return get_object_lock_state(c, true);
  if (m == "DELETE" && q.has_param("tagging")) return delete_object_tagging(c);
  if (m == "GET") return upload ? list_parts(c) : get_object(c, false);
  if (m == "HEAD") return get_object(c, true);
  if (m == "DELETE") return upload ? abort_upload(c) : delete_object(c);
  if (m == "POST") {
    if (q.has_param("uploads")) return create_upload(c);
    if (upload) return complete_upload(c);
  }
  c.op = "Object";
  return error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
}

// ---- service and bucket operations

Response S3Handler::list_buckets(Ctx& c) {
  c.op = "ListBuckets";
  if (c.auth.anonymous) return error(c, make_s3_error(403, "AccessDenied", "Access Denied"));
  auto t = gw_->get_tenant(c.auth.tenant);
  if (!t) return error(c, t.status(), Subject::kService);
  // Pagination: max-buckets (1..10000), continuation-token (the last name
  // returned, opaque to clients) and prefix.
  const std::string* pfx = c.req.param("prefix");
  const std::string* tok = c.req.param("continuation-token");
  uint64_t max = 10000;
  if (const std::string* m = c.req.param("max-buckets")) {
    auto [p, ec] = std::from_chars(m->data(), m->data() + m->size(), max);
    if (ec != std::errc() || p != m->data() + m->size() || max < 1 || max > 10000)
      return error(c, make_s3_error(400, "InvalidArgument", "max-buckets must be an integer between 1 and 10000"));
  }
  std::string after;
  if (tok) {
    Bytes raw;
    if (!base64_decode(*tok, &raw)) return error(c, make_s3_error(400, "InvalidArgument", "The continuation token provided is incorrect"));
    after = std::string(as_string_view(raw));
  }
  auto all = gw_->list_namespaces(c.auth.tenant);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  XmlWriter x;
  x.open("ListAllMyBucketsResult", true).open("Owner").leaf("ID", std::to_string(t->id));
  x.leaf("DisplayName", t->name).close("Owner").open("Buckets");
  uint64_t n = 0;
  std::string last;
  bool more = false;
  for (const auto& ns : all) {
    if (pfx && !ns.name.starts_with(*pfx)) continue;
    if (tok && ns.name <= after) continue;
    if (n == max) {
      more = true;
      break;
    }
    x.open("Bucket").leaf("Name", ns.name).leaf("CreationDate", iso8601(ns.created_ns)).close("Bucket");
    last = ns.name;
    ++n;
  }
  x.close("Buckets");
  if (more) x.leaf("ContinuationToken", base64_encode(as_bytes(last)));
  if (pfx) x.leaf("Prefix", *pfx);
  x.close("ListAllMyBucketsResult");
  return xml_response(x);
}

Response S3Handler::create_bucket(Ctx& c) {
  c.op = "CreateBucket";
  if (c.auth.anonymous) return error(c, make_s3_error(403, "AccessDenied", "Access Denied"));
  if (!c.auth.user.empty())
    return error(c, make_s3_error(403, "AccessDenied", "Access Denied: a user's key makes no buckets; the tenant's own does"));
  if (!valid_bucket_name(c.req.bucket))
    return error(c, make_s3_error(400, "InvalidBucketName", "The specified bucket is not valid."));
  auto body = read_small_body(c, 64 << 10);  // CreateBucketConfiguration: accepted, region ignored
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto acl = acl_from_headers(c.req);
  if (!acl) return error(c, acl.status(), Subject::kBucket);
  std::string ownership = c.req.header_or("x-amz-object-ownership");
  if (!ownership.empty() && ownership != "BucketOwnerEnforced" && ownership != "BucketOwnerPreferred" &&
      ownership != "ObjectWriter")
    return error(c, make_s3_error(400, "InvalidArgument", "Invalid x-amz-object-ownership header: " + ownership));
  if (ownership == "BucketOwnerEnforced" && *acl && !(*acl)->empty())
    return error(c, make_s3_error(400, "InvalidBucketAclWithObjectOwnership",
                                  "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"));
  // public-read is the namespace's own flag (NFS and the admin API know it);
  // other grants are the bucket's ACL item.
  bool public_read = c.req.header_or("x-amz-acl") == "public-read";
  auto ref = gw_->create_namespace(c.auth.tenant, c.req.bucket, public_read);
  if (!ref) return error(c, ref.status(), Subject::kBucket);
  if (*acl && !(*acl)->empty() && !public_read)
    if (Status st = gw_->put_namespace_config(*ref, kAclItem, encode_acl(**acl)); !st) return error(c, st, Subject::kBucket);
  if (!ownership.empty())
    if (Status st = gw_->put_namespace_config(*ref, kOwnershipItem, ownership); !st) return error(c, st, Subject::kBucket);
  if (ascii_lower(c.req.header_or("x-amz-bucket-object-lock-enabled")) == "true") {
    // Object lock comes with versioning, for good.
    Status st = gw_->put_namespace_config(*ref, gateway::kVersioningItem, "Enabled");
    if (st) st = gw_->put_namespace_config(*ref, kObjectLockItem, lock_config_xml({}));
    if (!st) return error(c, st, Subject::kBucket);
  }
  Response r;
  r.set("Location", "/" + c.req.bucket);
  return r;
}

Response S3Handler::delete_bucket(Ctx& c) {
  c.op = "DeleteBucket";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  // A bucket that holds nothing but uploads in progress is empty to S3: they
  // are aborted with it (objects first: a bucket with objects stays).
  gateway::ListRequest probe;
  probe.max_keys = 1;
  auto objects = gw_->list_objects(*ns, probe);
  if (objects && objects->objects.empty() && objects->common_prefixes.empty()) {
    auto uploads = gw_->list_uploads(*ns, "");
    if (uploads)
      for (const auto& u : *uploads) (void)gw_->abort_upload(*ns, u.upload_id);
  }
  Status st = gw_->delete_namespace(c.auth.tenant, c.req.bucket);
  if (!st) return error(c, st, Subject::kBucket);
  Response r;
  r.status = 204;
  return r;
}

Response S3Handler::head_bucket(Ctx& c) {
  c.op = "HeadBucket";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  // The bucket's root as the cluster has it now (a cached name may outlive a
  // delete on another node by the moment it takes to apply here).
  if (auto root = gw_->getattr(*ns, ns::kRootInode); !root)
    return error(c, root.code() == ErrorCode::kStale ? not_found("no such bucket") : root.status(), Subject::kBucket);
  Response r;
  r.set("x-amz-bucket-region", opts_.region);
  return r;
}

Response S3Handler::bucket_location(Ctx& c) {
  c.op = "GetBucketLocation";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  Response r;
  r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
           (opts_.region == "us-east-1" ? std::string() : xml_escape(opts_.region)) + "</LocationConstraint>";
  r.set("Content-Type", "application/xml");
  return r;
}

Response S3Handler::list_objects(Ctx& c, bool v2) {
  c.op = v2 ? "ListObjectsV2" : "ListObjects";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  const S3Request& q = c.req;
  auto listing = Listing::of(q);
  if (!listing) return error(c, listing.status(), Subject::kBucket);
  gateway::ListRequest& lr = listing->request;
  bool url = listing->url;
  auto enc = [&](const std::string& s) { return listing->key(s); };
  std::string token, start_after, marker;
  if (v2) {
    if (const std::string* t = q.param("continuation-token")) {
      Bytes raw;
      if (!base64_decode(*t, &raw))
        return error(c, make_s3_error(400, "InvalidArgument", "The continuation token provided is incorrect"));
      token = *t;
      lr.start_after = std::string(as_string_view(raw));
    } else if (const std::string* sa = q.param("start-after")) {
      start_after = *sa;
      lr.start_after = *sa;
    }
  } else if (const std::string* mk = q.param("marker")) {
    marker = *mk;
    lr.start_after = *mk;
  }
  auto res = gw_->list_objects(*ns, lr);
  if (!res) return error(c, res.status(), Subject::kBucket);
  if (Status st = listing->check(*res); !st) return error(c, st, Subject::kBucket);
  bool fetch_owner = !v2 || (q.param("fetch-owner") && *q.param("fetch-owner") == "true");
  std::string owner_id = std::to_string(ns->tenant);  // the bucket's owner, whoever lists
  XmlWriter x;
  x.open("ListBucketResult", true).leaf("Name", c.req.bucket).leaf("Prefix", enc(lr.prefix));
  if (v2) {
    if (!token.empty()) x.leaf("ContinuationToken", token);
    if (!start_after.empty()) x.leaf("StartAfter", enc(start_after));
    x.leaf("KeyCount", std::to_string(res->objects.size() + res->common_prefixes.size()));
  } else {
    x.leaf("Marker", enc(marker));
  }
  x.leaf("MaxKeys", std::to_string(lr.max_keys));
  if (!lr.delimiter.empty()) x.leaf("Delimiter", enc(lr.delimiter));
  if (url) x.leaf("EncodingType", "url");
  x.leaf("IsTruncated", res->truncated ? "true" : "false");
  if (res->truncated) {
    if (v2) {
      x.leaf("NextContinuationToken", base64_encode(as_bytes(res->next_start_after)));
    } else if (!lr.delimiter.empty()) {
      x.leaf("NextMarker", enc(res->next_start_after));
    }
  }
  for (const auto& o : res->objects) {
    x.open("Contents").leaf("Key", enc(o.key)).leaf("LastModified", iso8601(o.mtime_ns));
    x.leaf("ETag", "\"" + o.etag + "\"").leaf("Size", std::to_string(o.size)).leaf("StorageClass", "STANDARD");
    if (fetch_owner) x.open("Owner").leaf("ID", owner_id).leaf("DisplayName", owner_id).close("Owner");
    x.close("Contents");
  }
  for (const auto& p : res->common_prefixes) x.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes");
  x.close("ListBucketResult");
  return xml_response(x);
}

Response S3Handler::list_uploads(Ctx& c) {
  c.op = "ListMultipartUploads";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  std::string prefix = c.req.param("prefix") ? *c.req.param("prefix") : "";
  auto ups = gw_->list_uploads(*ns, prefix);
  if (!ups) return error(c, ups.status(), Subject::kBucket);
  std::string key_marker = c.req.param("key-marker") ? *c.req.param("key-marker") : "";
  uint32_t max = 1000;
  if (const std::string* m = c.req.param("max-uploads")) max = static_cast<uint32_t>(std::clamp(std::atoi(m->c_str()), 0, 1000));
  XmlWriter x;
  x.open("ListMultipartUploadsResult", true).leaf("Bucket", c.req.bucket).leaf("KeyMarker", key_marker);
  x.leaf("UploadIdMarker", "").leaf("Prefix", prefix).leaf("MaxUploads", std::to_string(max));
  uint32_t n = 0;
  bool truncated = false;
  std::string next_key, next_id;
  for (const auto& u : *ups) {
    if (!key_marker.empty() && u.key <= key_marker) continue;
    if (n == max) {
      truncated = true;
      break;
    }
    ++n;
    next_key = u.key;
    next_id = u.upload_id;
    x.open("Upload").leaf("Key", u.key).leaf("UploadId", u.upload_id).leaf("Initiated", iso8601(u.initiated_ns));
    x.leaf("StorageClass", "STANDARD").close("Upload");
  }
  x.leaf("IsTruncated", truncated ? "true" : "false");
  if (truncated) x.leaf("NextKeyMarker", next_key).leaf("NextUploadIdMarker", next_id);
  x.close("ListMultipartUploadsResult");
  return xml_response(x);
}

Response S3Handler::delete_objects(Ctx& c) {
  c.op = "DeleteObjects";
  auto ns = find_bucket(c, c.req.bucket);  // the caller's right is asked per key
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 2 << 20);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto req = parse_delete(*body);
  if (!req) return error(c, req.status(), Subject::kBucket);
  XmlWriter x;
  x.open("DeleteResult", true);
  for (size_t i = 0; i < req->keys.size(); ++i) {
    const std::string& k = req->keys[i];
    const std::string& version = req->version_ids[i];
    Status st = authorize(c, *ns, version.empty() ? "s3:DeleteObject" : "s3:DeleteObjectVersion", k);
    bool bypass = !version.empty() && bypass_governance(c, ns->ref, k);
    gateway::DeletedObject done{version, false};
    if (st && version.empty()) {
      st = gw_->delete_object(ns->ref, k, {}, &done);
    } else if (st && !gateway::well_formed_version_id(version)) {
      st = not_found(kNoSuchVersion);  // no version has such an id
    } else if (st) {
      auto res = gw_->delete_object_version(ns->ref, k, version, bypass);
      st = res.status();
      if (res) done = *res;
      if (st.code() == ErrorCode::kNotFound) st = Status::ok();  // deleted already
    }
    if (st.is_ok() || (version.empty() && (st.code() == ErrorCode::kNotFound || st.code() == ErrorCode::kInvalidArgument))) {
      if (!req->quiet) {
        x.open("Deleted").leaf("Key", k);
        if (!version.empty()) x.leaf("VersionId", version);
        if (done.delete_marker) {
          x.leaf("DeleteMarker", "true");
          if (version.empty()) x.leaf("DeleteMarkerVersionId", done.version_id);
        }
        x.close("Deleted");
      }
    } else {
      S3Error e = s3_error(st, Subject::kObject);
      x.open("Error").leaf("Key", k);
      if (!version.empty()) x.leaf("VersionId", version);
      x.leaf("Code", e.code).leaf("Message", e.message).close("Error");
    }
  }
  x.close("DeleteResult");
  return xml_response(x);
}

}  // namespace kiseki::s3
