// POST object: a browser's form upload. The fields before the file are read
// into memory (20 KiB at most), the signed policy is checked against them, and
// the file part streams into the Gateway like a PUT's body.
#include <algorithm>

#include "common/text.h"
#include "protocols/s3/body.h"
#include "protocols/s3/form_data.h"
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/post_policy.h"
#include "protocols/s3/sigv2.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

using gateway::AccessKey;

namespace {

constexpr size_t kMaxFieldBytes = 20 << 10;  // all fields before the file together

S3Error denied(std::string m) { return make_s3_error(403, "AccessDenied", std::move(m)); }

// Who signed the form: the access key whose signature over the policy holds.
Result<AccessKey> form_signer(const std::map<std::string, std::string>& f, const gateway::Gateway& gw,
                              std::optional<S3Error>* refusal) {
  auto field = [&](const char* n) -> const std::string* {
    auto it = f.find(n);
    return it == f.end() ? nullptr : &it->second;
  };
  const std::string* policy = field("policy");
  std::string akid, want;
  Result<Credential> cred = invalid_argument("");
  if (const std::string* sig = field("x-amz-signature")) {
    const std::string* algo = field("x-amz-algorithm");
    const std::string* c = field("x-amz-credential");
    if (!algo || *algo != kAlgorithm || !c || !field("x-amz-date"))
      return invalid_argument("InvalidRequest: a SigV4 form needs x-amz-algorithm AWS4-HMAC-SHA256, "
                              "x-amz-credential and x-amz-date");
    cred = parse_credential(*c);
    if (!cred) return invalid_argument("InvalidRequest: the x-amz-credential field is malformed");
    akid = cred->access_key;
    want = *sig;
  } else if (const std::string* sig2 = field("signature"); sig2 && field("awsaccesskeyid")) {
    akid = *field("awsaccesskeyid");
    want = *sig2;
  } else {
    *refusal = denied("Anonymous form uploads are not allowed: sign the policy with an access key");
    return make_error(ErrorCode::kPermissionDenied, "");
  }
  if (!policy) return invalid_argument("InvalidRequest: a signed form needs a policy field");
  auto key = gw.get_access_key(akid);
  if (!key) {
    if (key.code() == ErrorCode::kNotFound)
      *refusal = make_s3_error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    return key.status();
  }
  std::string got = cred ? sign_hex(signing_key(key->secret_key, *cred), *policy) : v2_signature(key->secret_key, *policy);
  if (got.size() != want.size() || !signatures_equal(got, want)) {
    *refusal = make_s3_error(403, "SignatureDoesNotMatch",
                             "The request signature we calculated does not match the signature you provided.");
    return make_error(ErrorCode::kPermissionDenied, "");
  }
  return key;
}

}  // namespace

Response S3Handler::post_object(Ctx& c) {
  c.op = "PostObject";
  std::string boundary = form_boundary(c.req.header_or("content-type"));
  if (boundary.empty())
    return error(c, make_s3_error(412, "PreconditionFailed",
                                  "Bucket POST must be of the enclosure-type multipart/form-data"));
  if (c.body.content_length > opts_.max_single_put_bytes + kMaxFieldBytes + (64 << 10))
    return error(c, make_s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."));
  FormDataReader form(c.body.raw, boundary);

  // The fields, up to the file.
  std::map<std::string, std::string> fields;
  FormPart part;
  size_t field_bytes = 0;
  bool file = false;
  for (;;) {
    auto more = form.next(&part);
    if (!more) return error(c, more.status(), Subject::kObject);
    if (!*more) break;
    std::string name = ascii_lower(part.name);
    if (name == "file") {
      file = true;
      break;
    }
    auto value = form.read_value(kMaxFieldBytes - field_bytes);
    if (!value) return error(c, value.status(), Subject::kObject);
    field_bytes += value->size();
    fields.emplace(std::move(name), std::move(*value));  // a repeated field: the first counts
  }
  if (!file) return error(c, make_s3_error(400, "InvalidArgument", "POST requires exactly one file upload per request."));
  auto key_field = fields.find("key");
  if (key_field == fields.end())
    return error(c, make_s3_error(400, "InvalidArgument",
                                  "Bucket POST must contain a field named 'key'. If it is specified, please check "
                                  "the order of the fields."));
  fields["bucket"] = c.req.bucket;

  // Who, and whether the policy lets this form through.
  std::optional<S3Error> refusal;
  auto signer = form_signer(fields, *gw_, &refusal);
  if (refusal) return error(c, *refusal);
  if (!signer) return error(c, signer.status(), Subject::kObject);
  Bytes policy_json;
  if (!base64_decode(fields["policy"], &policy_json))
    return error(c, make_s3_error(400, "InvalidPolicyDocument", "Invalid Policy: the policy is not base64"));
  auto policy = parse_post_policy(as_string_view(policy_json));
  if (!policy) return error(c, policy.status(), Subject::kObject);
  if (Status st = check_post_policy(*policy, fields, c.now); !st) return error(c, st, Subject::kObject);
  c.auth.anonymous = false;
  c.auth.tenant = signer->tenant;
  c.auth.user = signer->user;
  c.auth.access_key = signer->access_key_id;

  // ${filename}: the name the browser gave the file (its last component).
  std::string key = key_field->second;
  std::string filename = part.filename.substr(part.filename.find_last_of("/\\") + 1);
  for (size_t at = 0; (at = key.find("${filename}", at)) != std::string::npos; at += filename.size())
    key.replace(at, 11, filename);
  if (Status st = key_error_if_invalid(key); !st) return error(c, st, Subject::kObject);
  // The signer's right to write this key of the bucket.
  auto bucket = find_bucket(c, c.req.bucket);
  if (!bucket) return error(c, bucket.status(), Subject::kBucket);
  if (Status st = authorize(c, *bucket, action_of(c.op), key); !st) return error(c, st, Subject::kBucket);

  // The fields that are object headers, as a PUT would send them.
  S3Request as_put;
  for (const auto& [name, value] : fields)
    if (name == "content-type" || name == "acl" || name == "cache-control" || name == "content-disposition" ||
        name == "content-encoding" || name == "expires" || name.starts_with("x-amz-meta-"))
      as_put.headers[name] = {value};
  if (auto t = fields.find("tagging"); t != fields.end()) {
    auto tags = parse_tagging_xml(t->second);
    if (!tags) return error(c, tags.status(), Subject::kObject);
    as_put.headers[kTagsHeader] = {encode_tags(*tags)};
  }
  if (auto acl = as_put.headers.extract("acl")) as_put.headers["x-amz-acl"] = std::move(acl.mapped());
  auto meta = meta_from(as_put);
  if (!meta) return error(c, meta.status(), Subject::kObject);
  if (Status st = lock_for_write(as_put, c.now, bucket->ref, &*meta); !st) return error(c, st, Subject::kObject);
  if (auto acl = acl_from_headers(as_put); acl && *acl)
    if (Status st = check_acl_write(*bucket, **acl); !st) return error(c, st, Subject::kObject);

  // The file, held to the policy's content-length-range as it streams.
  uint64_t size = 0;
  const PostPolicy& pol = *policy;
  gateway::ByteSource file_bytes = [&](MutableByteSpan out) -> Result<size_t> {
    KISEKI_ASSIGN_OR_RETURN(size_t n, form.read(out));
    size += n;
    if (static_cast<int64_t>(size) > pol.max_length || size > opts_.max_single_put_bytes)
      return invalid_argument("EntityTooLarge: Your proposed upload exceeds the maximum allowed size");
    if (n == 0 && static_cast<int64_t>(size) < pol.min_length)
      return invalid_argument("EntityTooSmall: Your proposed upload is smaller than the minimum allowed size");
    return n;
  };
  auto info = gw_->put_object(bucket->ref, key, file_bytes, *meta);
  c.bytes_in += size;
  if (!info) return error(c, info.status(), Subject::kObject);
  // Fields after the file are ignored (S3 does the same); the body is read to its end.
  for (FormPart rest;;) {
    auto more = form.next(&rest);
    if (!more || !*more) break;
  }

  std::string etag = "\"" + info->etag + "\"";
  Response r;
  r.set("ETag", etag);
  auto field = [&](const char* n) { return fields.count(n) ? fields[n] : std::string(); };
  std::string redirect = field("success_action_redirect");
  if (redirect.empty()) redirect = field("redirect");
  if (!redirect.empty()) {
    r.status = 303;
    r.set("Location", redirect + (redirect.find('?') == std::string::npos ? "?" : "&") + "bucket=" +
                          uri_encode(c.req.bucket, false) + "&key=" + uri_encode(key, false) +
                          "&etag=" + uri_encode(etag, false));
    return r;
  }
  std::string location = std::string(opts_.https ? "https://" : "http://") + c.req.header_or("host") + "/" +
                         uri_encode(c.req.bucket, false) + "/" + uri_encode(key, true);
  r.set("Location", location);
  std::string status = field("success_action_status");
  if (status == "201") {
    XmlWriter x;
    x.open("PostResponse").leaf("Location", location).leaf("Bucket", c.req.bucket).leaf("Key", key);
    x.leaf("ETag", etag).close("PostResponse");
    Response doc = xml_response(x);
    doc.status = 201;
    doc.headers.insert(doc.headers.begin(), r.headers.begin(), r.headers.end());
    return doc;
  }
  r.status = status == "200" ? 200 : 204;
  return r;
}

}  // namespace kiseki::s3
