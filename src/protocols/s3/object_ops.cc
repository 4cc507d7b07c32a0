// S3 object and multipart operations.
#include <charconv>

#include "protocols/s3/body.h"
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/tagging.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

using gateway::NsRef;
using gateway::ObjectInfo;
using gateway::ObjectMeta;

namespace {

constexpr uint64_t kMaxUserMetaBytes = 2048;
constexpr const char* kStoredHeaders[] = {"content-disposition", "content-encoding", "cache-control",
                                          "content-language", "expires"};

}  // namespace

std::string quoted(const std::string& etag) { return "\"" + etag + "\""; }
std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// Standard headers and x-amz-meta-* of a PUT/copy/create-upload request.
Result<ObjectMeta> meta_from(const S3Request& q) {
  ObjectMeta m;
  m.content_type = q.header_or("content-type", "binary/octet-stream");
  for (const char* h : kStoredHeaders) {
    const std::string* v = q.header(h);
    if (!v) continue;
    std::string value = *v;
    if (std::string_view(h) == "content-encoding") {
      // aws-chunked describes the transfer, not the object.
      std::string kept;
      size_t s = 0;
      while (s <= value.size()) {
        size_t comma = value.find(',', s);
        if (comma == std::string::npos) comma = value.size();
        std::string part = value.substr(s, comma - s);
        while (!part.empty() && part.front() == ' ') part.erase(0, 1);
        if (!part.empty() && part != "aws-chunked") kept += (kept.empty() ? "" : ",") + part;
        s = comma + 1;
      }
      if (kept.empty()) continue;
      value = kept;
    }
    m.headers[h] = value;
  }
  uint64_t meta_bytes = 0;
  for (const auto& [name, values] : q.headers) {
    if (name.rfind("x-amz-meta-", 0) != 0 || values.empty()) continue;
    std::string key = name.substr(11);
    meta_bytes += key.size() + values.front().size();
    m.user_meta[key] = values.front();
  }
  if (meta_bytes > kMaxUserMetaBytes)
    return invalid_argument("MetadataTooLarge: Your metadata headers exceed the maximum allowed metadata size.");
  if (const std::string* t = q.header("x-amz-tagging")) {
    KISEKI_ASSIGN_OR_RETURN(TagSet tags, parse_tag_header(*t));
    if (!tags.empty()) m.headers[kTagsHeader] = encode_tags(tags);
  }
  KISEKI_ASSIGN_OR_RETURN(auto acl, acl_from_headers(q));
  if (acl && !acl->empty()) m.headers[kAclHeader] = encode_acl(*acl);
  return m;
}

namespace {

// `whole`: the reply carries the whole object; a checksum of the object is not
// one of a partial range, so a ranged reply carries none (as AWS answers).
void object_headers(Response& r, const ObjectInfo& o, const S3Request& q, bool whole) {
  r.set("ETag", quoted(o.etag));
  r.set("Last-Modified", http_date(o.mtime_ns));
  r.set("Accept-Ranges", "bytes");
  if (!o.version_id.empty()) r.set("x-amz-version-id", o.version_id);
  if (o.meta.lock.mode != ns::LockMode::kNone) {
    r.set("x-amz-object-lock-mode", lock_mode_name(o.meta.lock.mode));
    r.set("x-amz-object-lock-retain-until-date", iso8601(o.meta.lock.retain_until_ns));
  }
  if (o.meta.lock.legal_hold) r.set("x-amz-object-lock-legal-hold", "ON");
  std::string ct = o.meta.content_type.empty() ? "binary/octet-stream" : o.meta.content_type;
  // Presigned GETs may override response headers.
  auto override_or = [&](const char* param, const std::string& def) {
    const std::string* v = q.param(param);
    return v ? *v : def;
  };
  r.set("Content-Type", override_or("response-content-type", ct));
  bool checksums = whole && q.header_or("x-amz-checksum-mode") == "ENABLED";
  for (const auto& [k, v] : o.meta.headers) {
    // Tags: counted, listed by GET ?tagging; x-kiseki-*: Kiseki's own (the ACL: GET ?acl).
    if (k == kTagsHeader || k.starts_with("x-kiseki-")) continue;
    if (k.rfind("x-amz-checksum-", 0) == 0) {
      if (checksums) r.set(k, v);
      continue;
    }
    std::string param = "response-" + k;
    if (!q.param(param)) r.set(k, v);
  }
  for (const char* h : kStoredHeaders) {
    std::string param = std::string("response-") + h;
    if (const std::string* v = q.param(param)) r.set(h, *v);
  }
  for (const auto& [k, v] : o.meta.user_meta) r.set("x-amz-meta-" + k, v);
}

// Evaluates If-Match / If-None-Match / If-(Un)Modified-Since for GET and HEAD.
// Returns 0 to proceed, or 304 / 412.
int check_conditions(const S3Request& q, const ObjectInfo& o) {
  const std::string* im = q.header("if-match");
  const std::string* inm = q.header("if-none-match");
  const std::string* ims = q.header("if-modified-since");
  const std::string* ius = q.header("if-unmodified-since");
  auto etag_in = [&](const std::string& list) {
    size_t s = 0;
    while (s <= list.size()) {
      size_t comma = list.find(',', s);
      if (comma == std::string::npos) comma = list.size();
      std::string t = list.substr(s, comma - s);
      while (!t.empty() && t.front() == ' ') t.erase(0, 1);
      while (!t.empty() && t.back() == ' ') t.pop_back();
      if (t == "*" || unquote(t) == o.etag) return true;
      s = comma + 1;
    }
    return false;
  };
  int64_t mtime_s = o.mtime_ns / 1'000'000'000, t;
  if (im && !etag_in(*im)) return 412;
  if (!im && ius && parse_http_date(*ius, &t) && mtime_s > t / 1'000'000'000) return 412;
  if (inm && etag_in(*inm)) return 304;
  if (!inm && ims && parse_http_date(*ims, &t) && mtime_s <= t / 1'000'000'000) return 304;
  return 0;
}

}  // namespace

// "bytes=a-b", "bytes=a-", "bytes=-n". Returns false for syntax S3 ignores (full
// object); `unsatisfiable` for a range that starts past the end.
bool parse_range(const std::string& h, uint64_t size, uint64_t* off, uint64_t* len, bool* unsatisfiable) {
  *unsatisfiable = false;
  if (h.rfind("bytes=", 0) != 0) return false;
  std::string spec = h.substr(6);
  if (spec.find(',') != std::string::npos) return false;  // multiple ranges: whole object
  auto dash = spec.find('-');
  if (dash == std::string::npos) return false;
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto num = [](const std::string& s, uint64_t* v) {
    if (s.empty() || s.size() > 19) return false;
    for (char ch : s)
      if (ch < '0' || ch > '9') return false;
    *v = std::stoull(s);
    return true;
  };
  uint64_t x = 0, y = 0;
  if (a.empty()) {  // suffix
    if (!num(b, &y)) return false;
    if (y == 0) {
      *unsatisfiable = true;
      return true;
    }
    y = std::min(y, size);
    *off = size - y;
    *len = y;
    return true;
  }
  if (!num(a, &x)) return false;
  if (!b.empty() && (!num(b, &y) || y < x)) return false;
  if (x >= size) {
    *unsatisfiable = true;
    return true;
  }
  uint64_t end = b.empty() ? size - 1 : std::min(y, size - 1);
  *off = x;
  *len = end - x + 1;
  return true;
}

// "/bucket/key?versionId=…" or "bucket/key", URL-encoded.
bool parse_copy_source(const std::string& raw, std::string* bucket, std::string* key, std::string* version) {
  std::string s = raw;
  auto q = s.find('?');
  if (version) version->clear();
  if (q != std::string::npos) {
    QueryParams params;
    if (!parse_query(std::string_view(s).substr(q + 1), &params)) return false;
    for (const auto& [k, v] : params)
      if (k == "versionId" && version) *version = v;
    s = s.substr(0, q);
  }
  std::string decoded;
  if (!uri_decode(s, &decoded)) return false;
  if (!decoded.empty() && decoded.front() == '/') decoded.erase(0, 1);
  auto slash = decoded.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == decoded.size()) return false;
  *bucket = decoded.substr(0, slash);
  *key = decoded.substr(slash + 1);
  return true;
}

Status key_error_if_invalid(const std::string& key) {
  if (key.size() > gateway::kMaxKeyBytes) return make_error(ErrorCode::kNameTooLong, "key too long");
  return gateway::validate_key(key);
}

Response S3Handler::put_object(Ctx& c) {
  c.op = "PutObject";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = key_error_if_invalid(c.req.key); !st) return error(c, st, Subject::kObject);
  if (c.body.content_length > opts_.max_single_put_bytes && c.auth.payload_hash.rfind("STREAMING", 0) != 0)
    return error(c, make_s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."));
  auto meta = meta_from(c.req);
  if (!meta) return error(c, meta.status(), Subject::kObject);
  if (Status st = lock_for_write(c.req, c.now, *ns, &*meta); !st) return error(c, st, Subject::kObject);
  gateway::PutConditions cond;
  if (const std::string* inm = c.req.header("if-none-match")) {
    if (*inm != "*") return error(c, make_s3_error(501, "NotImplemented", "If-None-Match supports only '*' on PUT"));
    cond.if_none_match_star = true;
  }
  if (const std::string* im = c.req.header("if-match")) cond.if_match = unquote(*im);
  // Checksums are verified as the body streams and land in the object's headers,
  // so GET/HEAD with x-amz-checksum-mode: ENABLED return them.
  auto body = BodyReader::make(c.req, c.auth, c.body.raw, &meta->headers, /*md5_by_caller=*/true);
  if (!body) return error(c, body.status(), Subject::kObject);
  cond.content_md5 = (*body)->content_md5();
  auto info = gw_->put_object(*ns, c.req.key, (*body)->source(), *meta, cond);
  c.bytes_in += (*body)->bytes();
  if (!info) return error(c, info.status(), Subject::kObject);
  Response r;
  r.set("ETag", quoted(info->etag));
  if (!info->version_id.empty()) r.set("x-amz-version-id", info->version_id);
  for (const auto& [k, v] : (*body)->checksums()) r.set(k, v);
  return r;
}

Response S3Handler::get_object(Ctx& c, bool head) {
  c.op = head ? "HeadObject" : "GetObject";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (c.req.key.size() > gateway::kMaxKeyBytes)
    return error(c, make_error(ErrorCode::kNameTooLong, "key too long"), Subject::kObject);
  const std::string* version = c.req.param("versionId");
  auto h = open_named_version(*ns, c.req.key, version);
  if (!h) {
    // A key that cannot be a path cannot exist either.
    if (h.code() == ErrorCode::kInvalidArgument && !version) return error(c, not_found(""), Subject::kObject);
    return error(c, h.status(), Subject::kObject);
  }
  Response r;
  if (h->info.delete_marker) {
    r = error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
    r.set("x-amz-delete-marker", "true");
    r.set("x-amz-version-id", h->info.version_id);
    r.set("Last-Modified", http_date(h->info.mtime_ns));
    return r;
  }
  int cond = check_conditions(c.req, h->info);
  if (cond == 304) {
    r.status = 304;
    r.set("ETag", quoted(h->info.etag));
    r.set("Last-Modified", http_date(h->info.mtime_ns));
    return r;
  }
  if (cond == 412) return error(c, make_s3_error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"));
  uint64_t size = h->info.size, off = 0, len = size;
  const auto& parts = h->info.part_sizes;
  if (const std::string* pn = c.req.param("partNumber")) {
    // One part of a multipart upload; an object of one PUT is its part 1.
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(pn->data(), pn->data() + pn->size(), n);
    if (ec != std::errc() || p != pn->data() + pn->size() || n < 1 || n > 10000)
      return error(c, make_s3_error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"));
    if (c.req.header("range"))
      return error(c, make_s3_error(400, "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"));
    uint64_t count = parts.empty() ? 1 : parts.size();
    if (n > count) return error(c, make_s3_error(416, "InvalidPartNumber", "The requested partnumber is not satisfiable"));
    if (!parts.empty()) {
      for (uint64_t k = 0; k + 1 < n; ++k) off += parts[k];
      len = parts[n - 1];
      r.set("x-amz-mp-parts-count", std::to_string(parts.size()));
      r.status = 206;
      r.set("Content-Range", "bytes " + std::to_string(off) + "-" + std::to_string(off + len - 1) + "/" +
                                 std::to_string(size));
    }
  } else if (const std::string* range = c.req.header("range")) {
    bool unsatisfiable = false;
    if (parse_range(*range, size, &off, &len, &unsatisfiable)) {
      if (unsatisfiable) {
        Response e = error(c, make_s3_error(416, "InvalidRange", "The requested range is not satisfiable"));
        e.set("Content-Range", "bytes */" + std::to_string(size));
        return e;
      }
      r.status = 206;
      r.set("Content-Range", "bytes " + std::to_string(off) + "-" + std::to_string(off + len - 1) + "/" +
                                 std::to_string(size));
    }
  }
  object_headers(r, h->info, c.req, off == 0 && len == size && !c.req.param("partNumber"));
  if (auto t = h->info.meta.headers.find(kTagsHeader); !head && t != h->info.meta.headers.end())
    r.set("x-amz-tagging-count", std::to_string(tag_count(t->second)));
  r.offset = off;
  r.length = len;
  r.head = head;
  r.object = std::move(*h);
  return r;
}

Response S3Handler::delete_object(Ctx& c) {
  c.op = "DeleteObject";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  gateway::DeleteConditions cond;
  if (const std::string* m = c.req.header("if-match")) cond.if_match = unquote(*m);
  Response r;
  r.status = 204;
  gateway::DeletedObject done;
  Status st;
  if (const std::string* version = c.req.param("versionId")) {
    if (!gateway::well_formed_version_id(*version))
      return error(c, make_s3_error(400, "InvalidArgument", "Invalid version id specified"));
    auto res = gw_->delete_object_version(*ns, c.req.key, *version, bypass_governance(c, *ns, c.req.key));
    st = res.status();
    if (res) done = *res;
    else done.version_id = *version;  // a version that is not there is deleted already
  } else {
    st = gw_->delete_object(*ns, c.req.key, cond, &done);
  }
  // Deleting a missing key (or one that cannot exist) succeeds, as in S3
  // (but for a conditional delete: the condition names an object).
  if (st.code() == ErrorCode::kNotFound && cond.if_match) return error(c, st, Subject::kObject);
  if (!st && st.code() != ErrorCode::kNotFound && st.code() != ErrorCode::kInvalidArgument &&
      st.code() != ErrorCode::kNameTooLong)
    return error(c, st, Subject::kObject);
  if (!done.version_id.empty()) r.set("x-amz-version-id", done.version_id);
  if (done.delete_marker) r.set("x-amz-delete-marker", "true");
  return r;
}

Response S3Handler::copy_object(Ctx& c) {
  c.op = "CopyObject";
  auto dst = bucket_ref(c);
  if (!dst) return error(c, dst.status(), Subject::kBucket);
  if (Status st = key_error_if_invalid(c.req.key); !st) return error(c, st, Subject::kObject);
  std::string sb, sk, sv;
  if (!parse_copy_source(c.req.header_or("x-amz-copy-source"), &sb, &sk, &sv))
    return error(c, make_s3_error(400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"));
  auto src = copy_source(c, sb, sk, sv);
  if (!src) return error(c, src.status(), Subject::kBucket);
  std::string directive = c.req.header_or("x-amz-metadata-directive", "COPY");
  if (directive != "COPY" && directive != "REPLACE")
    return error(c, make_s3_error(400, "InvalidArgument", "Unknown metadata directive."));
  std::string tagging = c.req.header_or("x-amz-tagging-directive", "COPY");
  if (tagging != "COPY" && tagging != "REPLACE")
    return error(c, make_s3_error(400, "InvalidArgument", "Unknown tagging directive."));
  if (directive == "COPY" && tagging == "COPY" && sb == c.req.bucket && sk == c.req.key && sv.empty())
    return error(c, make_s3_error(400, "InvalidRequest",
                                  "This copy request is illegal because it is trying to copy an object to itself "
                                  "without changing the object's metadata, storage class, website redirect location "
                                  "or encryption attributes."));
  auto source = open_named_version(*src, sk, sv.empty() ? nullptr : &sv);
  if (!source) return error(c, source.status(), Subject::kObject);
  if (source->info.delete_marker)
    return error(c, make_s3_error(400, "InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id."));
  const gateway::ObjectInfo* head = &source->info;
  // The metadata of the source or of the request; the tags of the source or
  // of the request's x-amz-tagging, each by its own directive.
  ObjectMeta meta = head->meta;
  auto asked = meta_from(c.req);
  if (!asked) return error(c, asked.status(), Subject::kObject);
  if (directive == "REPLACE") {
    meta = *asked;
    meta.headers.erase(kTagsHeader);
    if (auto t = head->meta.headers.find(kTagsHeader); t != head->meta.headers.end()) meta.headers.insert(*t);
  }
  if (tagging == "REPLACE") {
    meta.headers.erase(kTagsHeader);
    if (auto t = asked->headers.find(kTagsHeader); t != asked->headers.end()) meta.headers.insert(*t);
  }
  // A copy's ACL is the request's (private unless it gives one), never the source's;
  // so is its object lock.
  meta.headers.erase(kAclHeader);
  if (auto a = asked->headers.find(kAclHeader); a != asked->headers.end()) meta.headers.insert(*a);
  meta.lock = {};
  if (Status st = lock_for_write(c.req, c.now, *dst, &meta); !st) return error(c, st, Subject::kObject);
  if (const std::string* m = c.req.header("x-amz-copy-source-if-match"); m && unquote(*m) != head->etag)
    return error(c, make_s3_error(412, "PreconditionFailed", "x-amz-copy-source-if-match did not hold"));
  if (const std::string* m = c.req.header("x-amz-copy-source-if-none-match"); m && unquote(*m) == head->etag)
    return error(c, make_s3_error(412, "PreconditionFailed", "x-amz-copy-source-if-none-match did not hold"));
  auto info = gw_->copy_object(*src, sk, *dst, c.req.key, meta, sv);
  if (!info) return error(c, info.status(), Subject::kObject);
  XmlWriter x;
  x.open("CopyObjectResult", true).leaf("LastModified", iso8601(info->mtime_ns)).leaf("ETag", quoted(info->etag));
  x.close("CopyObjectResult");
  Response r = xml_response(x);
  if (!head->version_id.empty()) r.set("x-amz-copy-source-version-id", head->version_id);
  if (!info->version_id.empty()) r.set("x-amz-version-id", info->version_id);
  return r;
}

// ---- object tags (kept in the object's metadata: tagging.h)

Response S3Handler::put_object_tagging(Ctx& c) {
  c.op = "PutObjectTagging";
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kObject);
  auto tags = parse_tagging_xml(*body);
  if (!tags) return error(c, tags.status(), Subject::kObject);
  return set_object_tags(c, *tags);
}

Response S3Handler::delete_object_tagging(Ctx& c) {
  c.op = "DeleteObjectTagging";
  Response r = set_object_tags(c, {});
  if (r.status == 200) r.status = 204;
  return r;
}

// The object's data and metadata stay; its tags become `tags`.
Response S3Handler::set_object_tags(Ctx& c, const TagSet& tags) {
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = only_current_version(*ns, c.req); !st) return error(c, st, Subject::kObject);
  auto info = gw_->edit_object_meta(*ns, c.req.key, [&](ObjectMeta* m) {
    m->headers.erase(kTagsHeader);
    if (!tags.empty()) m->headers[kTagsHeader] = encode_tags(tags);
    return Status::ok();
  });
  if (!info) return error(c, info.status(), Subject::kObject);
  return Response{};
}

Response S3Handler::get_object_tagging(Ctx& c) {
  c.op = "GetObjectTagging";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  const std::string* version = c.req.param("versionId");
  auto h = open_named_version(*ns, c.req.key, version);
  if (!h) return error(c, h.status(), Subject::kObject);
  if (h->info.delete_marker) return error(c, make_s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource."));
  const gateway::ObjectInfo* head = &h->info;
  TagSet tags;
  if (auto t = head->meta.headers.find(kTagsHeader); t != head->meta.headers.end()) {
    auto parsed = parse_tag_header(t->second);
    if (!parsed) return error(c, parsed.status(), Subject::kObject);
    tags = std::move(*parsed);
  }
  Response r = xml_response(tagging_xml(tags));
  if (version) r.set("x-amz-version-id", *version);
  return r;
}

}  // namespace kiseki::s3
