#include "protocols/s3/auth.h"

#include <cctype>
#include <charconv>
#include <chrono>

#include "protocols/s3/handler.h"
#include "protocols/s3/sigv2.h"

namespace kiseki::s3 {

namespace {

S3Error err(int status, const char* code, std::string msg) { return make_s3_error(status, code, std::move(msg)); }

AuthOutcome fail(S3Error e) {
  AuthOutcome o;
  o.error = std::move(e);
  return o;
}

// Signature Version 2: "Authorization: AWS AKID:SIG", or a presigned URL with
// AWSAccessKeyId, Expires and Signature.
AuthOutcome authenticate_v2(const S3Request& req, const gateway::Gateway& gw, int64_t now_ns) {
  const std::string* authz = req.header("authorization");
  std::string akid, signature, date;
  std::vector<std::string> dates;  // what may stand in the DATE line
  if (authz) {
    auto colon = authz->rfind(':');
    if (colon == std::string::npos || colon < 4)
      return fail(err(400, "InvalidArgument", "Authorization header is invalid: AWS AccessKeyId:Signature"));
    akid = authz->substr(4, colon - 4);
    signature = authz->substr(colon + 1);
    const std::string* xdate = req.header("x-amz-date");
    const std::string* hdate = req.header("date");
    if (!xdate && !hdate)
      return fail(err(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"));
    // RFC 1123 with "GMT" or, as s3cmd sends it, "+0000"; or ISO 8601 basic.
    std::string when = xdate ? *xdate : *hdate;
    if (when.ends_with(" +0000")) when.replace(when.size() - 5, 5, "GMT");
    int64_t t;
    if (!parse_http_date(when, &t) && !(xdate && parse_amz_date(*xdate, &t)))
      return fail(err(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"));
    if (t > now_ns + kMaxSkewNs || t < now_ns - kMaxSkewNs)
      return fail(err(403, "RequestTimeTooSkewed",
                      "The difference between the request time and the server's time is too large."));
    // With x-amz-date the Date line is empty (AWS); some clients put the Date there.
    if (xdate) dates.emplace_back();
    if (hdate) dates.push_back(*hdate);
  } else {
    akid = *req.param("AWSAccessKeyId");
    signature = *req.param("Signature");
    const std::string* e = req.param("Expires");
    int64_t expires = 0;
    if (!e) return fail(err(403, "AccessDenied", "Query-string authentication requires the Expires parameter"));
    auto [p, ec] = std::from_chars(e->data(), e->data() + e->size(), expires);
    if (ec != std::errc() || p != e->data() + e->size())
      return fail(err(403, "AccessDenied", "Invalid date (should be seconds since epoch): " + *e));
    if (now_ns / 1'000'000'000 > expires) return fail(err(403, "AccessDenied", "Request has expired"));
    dates.push_back(*e);
  }
  auto key = gw.get_access_key(akid);
  if (!key) {
    if (key.code() == ErrorCode::kNotFound)
      return fail(err(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."));
    return fail(s3_error(key.status(), Subject::kService));
  }
  // The resource as sent (percent-encoded) and, for clients that sign it
  // decoded, as decoded; the bucket leads it in virtual-host style.
  std::string raw = req.raw_target.substr(0, req.raw_target.find('?'));
  std::string lead = req.virtual_host ? "/" + req.bucket : std::string();
  std::vector<std::string> paths = {lead + raw, lead + req.path};
  // A bucket is signed as "/bucket/" by some clients that send "/bucket".
  if (req.key.empty() && !req.bucket.empty()) paths.push_back("/" + req.bucket + "/");
  bool ok = false;
  for (const std::string& path : paths) {
    std::string resource = v2_canonical_resource(path, req.query);
    for (const auto& d : dates) {
      std::string sts = v2_string_to_sign(req.method, req.header_or("content-md5"), req.header_or("content-type"), d,
                                          req.headers, resource);
      ok = ok || signatures_equal(v2_signature(key->secret_key, sts), signature);
    }
  }
  if (!ok)
    return fail(err(403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided."));
  AuthOutcome out;
  out.result.anonymous = false;
  out.result.tenant = key->tenant;
  out.result.user = key->user;
  out.result.access_key = akid;
  return out;
}

}  // namespace

bool parse_amz_date(std::string_view s, int64_t* ns) {
  // YYYYMMDDTHHMMSSZ
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  auto num = [&](size_t pos, size_t len, int* out) {  // digits only: no sign
    if (!std::isdigit(static_cast<unsigned char>(s[pos]))) return false;
    auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, *out);
    return ec == std::errc() && p == s.data() + pos + len;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(4, 2, &mo) || !num(6, 2, &d) || !num(9, 2, &h) || !num(11, 2, &mi) || !num(13, 2, &se))
    return false;
  // Years whose nanoseconds fit an int64 (to 2262); S3 dates are near now anyway.
  if (y < 1970 || y > 2200 || h > 23 || mi > 59 || se > 60) return false;
  // Calendar arithmetic, not timegm (glibc's takes a lock and walks the time
  // zone rules): every signed request has a date.
  std::chrono::year_month_day day{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!day.ok()) return false;
  auto t = std::chrono::sys_days{day} + std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{se};
  *ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return true;
}

AuthOutcome authenticate(const S3Request& req, const gateway::Gateway& gw, int64_t now_ns) {
  const std::string* authz = req.header("authorization");
  const std::string* algo = req.param("X-Amz-Algorithm");
  if (authz && authz->starts_with("AWS ")) return authenticate_v2(req, gw, now_ns);
  if (!authz && !algo && req.param("AWSAccessKeyId") && req.param("Signature")) return authenticate_v2(req, gw, now_ns);
  if (!authz && !algo) return {};  // anonymous

  AuthOutcome out;
  AuthResult& r = out.result;
  r.anonymous = false;
  std::vector<std::string> signed_headers;
  std::string signature, amz_date;
  Credential cred;
  std::string payload_hash;
  const QueryParams* query = &req.query;

  if (authz) {
    auto parsed = parse_authorization(*authz);
    if (!parsed) return fail(err(400, "AuthorizationHeaderMalformed", parsed.status().message()));
    cred = parsed->credential;
    signed_headers = parsed->signed_headers;
    signature = parsed->signature;
    amz_date = req.header_or("x-amz-date");
    if (amz_date.empty()) return fail(err(403, "AccessDenied", "AWS authentication requires a valid x-amz-date header"));
    const std::string* sha = req.header("x-amz-content-sha256");
    if (!sha) return fail(err(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"));
    payload_hash = *sha;
    int64_t t;
    if (!parse_amz_date(amz_date, &t)) return fail(err(403, "AccessDenied", "malformed x-amz-date"));
    if (t > now_ns + kMaxSkewNs || t < now_ns - kMaxSkewNs)
      return fail(err(403, "RequestTimeTooSkewed", "The difference between the request time and the server's time is too large."));
  } else {
    if (*algo != kAlgorithm) return fail(err(400, "AuthorizationQueryParametersError", "unsupported X-Amz-Algorithm"));
    const std::string *c = req.param("X-Amz-Credential"), *d = req.param("X-Amz-Date"),
                      *e = req.param("X-Amz-Expires"), *sh = req.param("X-Amz-SignedHeaders"),
                      *sig = req.param("X-Amz-Signature");
    if (!c || !d || !e || !sh || !sig)
      return fail(err(400, "AuthorizationQueryParametersError", "presigned URL misses a required parameter"));
    auto pc = parse_credential(*c);
    if (!pc) return fail(err(400, "AuthorizationQueryParametersError", pc.status().message()));
    cred = *pc;
    amz_date = *d;
    signature = *sig;
    int64_t expires = 0;
    auto [p, ec] = std::from_chars(e->data(), e->data() + e->size(), expires);
    if (ec != std::errc() || p != e->data() + e->size() || expires < 1 || expires > kMaxPresignSeconds)
      return fail(err(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1..604800"));
    int64_t t;
    if (!parse_amz_date(amz_date, &t)) return fail(err(400, "AuthorizationQueryParametersError", "malformed X-Amz-Date"));
    if (now_ns > t + expires * 1'000'000'000) return fail(err(403, "AccessDenied", "Request has expired"));
    if (t > now_ns + kMaxSkewNs) return fail(err(403, "AccessDenied", "Request is not yet valid"));
    size_t s = 0;
    while (s <= sh->size()) {
      size_t semi = sh->find(';', s);
      if (semi == std::string::npos) semi = sh->size();
      if (semi > s) signed_headers.push_back(sh->substr(s, semi - s));
      s = semi + 1;
    }
    const std::string* qsha = req.param("X-Amz-Content-Sha256");
    payload_hash = qsha ? *qsha : std::string(kUnsignedPayload);
  }
  if (amz_date.compare(0, 8, cred.date) != 0)
    return fail(err(403, "SignatureDoesNotMatch", "credential scope date differs from the request date"));
  if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end())
    return fail(err(400, "AuthorizationHeaderMalformed", "the host header must be signed"));

  auto key = gw.get_access_key(cred.access_key);
  if (!key) {
    if (key.code() == ErrorCode::kNotFound)
      return fail(err(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."));
    return fail(s3_error(key.status(), Subject::kService));
  }
  CanonicalInput in{req.method, req.path, query, &req.headers, &signed_headers, payload_hash};
  crypto::Digest skey = signing_key(key->secret_key, cred);
  std::string want = sign_hex(skey, string_to_sign(amz_date, cred, canonical_request(in)));
  if (!signatures_equal(want, signature))
    return fail(err(403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided."));
  r.tenant = key->tenant;
  r.user = key->user;
  r.access_key = cred.access_key;
  r.payload_hash = authz ? payload_hash : std::string();
  if (payload_hash == kStreamingPayload || payload_hash == kStreamingPayloadTrailer)
    r.chunk_signing = ChunkSigning{skey, amz_date, cred, signature};
  return out;
}

}  // namespace kiseki::s3
