// libFuzzer: an S3 request from its first bytes to the front end's decision:
// the HTTP header through Beast's parser, the request as the S3 server builds
// it (target, query, headers, bucket and key), its authentication against a
// real Gateway (SigV4 header, presigned V4 and V2 queries; "AKIDFUZZ" in the
// input stands for the Gateway's access key id, "SKFUZZ" for its secret), and
// the body through the aws-chunked decoder (unsigned and signed), the
// parsers of CompleteMultipartUpload, DeleteObjects, tagging, CORS, ACL,
// public access block, ownership, object lock (configuration, retention,
// legal hold) and bucket policy documents (the policy also evaluated), ACL headers, and a form upload's multipart/form-data reader and
// policy check.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>

#include "protocols/s3/auth.h"
#include "protocols/s3/access_settings.h"
#include "protocols/s3/acl.h"
#include "protocols/s3/object_lock.h"
#include "protocols/s3/aws_chunked.h"
#include "protocols/s3/policy.h"
#include "protocols/s3/cors.h"
#include "protocols/s3/form_data.h"
#include "protocols/s3/post_policy.h"
#include "protocols/s3/tagging.h"
#include "protocols/s3/request.h"
#include "protocols/s3/sigv2.h"
#include "protocols/s3/xml.h"
#include "fuzz/fuzz_support.h"

namespace http = boost::beast::http;
using namespace kiseki;

namespace {

constexpr int64_t kNow = 1767225600ll * 1000000000;  // 2026-01-01T00:00:00Z: dates in seeds match it

// A form upload's body: every field read, the file streamed, each policy field checked.
void form_paths(const std::string& body, const std::string& content_type) {
  std::string boundary = s3::form_boundary(content_type);
  if (boundary.empty()) return;
  s3::FormDataReader form(gateway::source_from(as_bytes(body)), boundary);
  std::map<std::string, std::string> fields;
  s3::FormPart part;
  for (int i = 0; i < 256; ++i) {  // bounded: every part consumes input
    auto more = form.next(&part);
    if (!more || !*more) break;
    if (part.name == "file") {
      char buf[4096];
      for (int j = 0; j < 4096; ++j) {
        auto n = form.read(MutableByteSpan(reinterpret_cast<uint8_t*>(buf), sizeof(buf)));
        if (!n || *n == 0) break;
      }
      continue;
    }
    auto v = form.read_value(20 << 10);
    if (!v) break;
    if (part.name == "policy") {
      auto pol = s3::parse_post_policy(*v);
      if (pol) (void)s3::check_post_policy(*pol, fields, kNow);
    }
    fields.emplace(part.name, std::move(*v));
  }
}

void body_paths(const std::string& body, bool trailer, const std::optional<s3::ChunkSigning>& signing) {
  (void)s3::parse_complete_multipart(body);
  (void)s3::parse_delete(body);
  (void)s3::parse_tagging_xml(body, s3::kMaxBucketTags);
  (void)s3::parse_cors_xml(body);
  if (auto acl = s3::parse_acl_xml(body, "1")) (void)s3::decode_acl(s3::encode_acl(*acl));
  (void)s3::parse_public_access_block(body);
  (void)s3::parse_ownership_controls(body);
  if (auto c = s3::parse_lock_config(body)) (void)s3::parse_lock_config(s3::lock_config_xml(*c));
  if (auto r = s3::parse_retention(body); r && r->mode != ns::LockMode::kNone) (void)s3::retention_xml(*r);
  (void)s3::parse_legal_hold(body);
  if (auto p = s3::BucketPolicy::parse(body, "bucket")) {
    s3::PolicyRequest r;
    r.action = "s3:GetObject";
    r.resource = "arn:aws:s3:::bucket/a/b";
    r.anonymous = false;
    r.account = "7";
    r.context = [&](std::string_view k) -> std::optional<std::vector<std::string>> {
      return std::vector<std::string>{std::string(k), "10.1.2.3", "2026-01-01T00:00:00Z", "42"};
    };
    (void)p->evaluate(r);
    (void)p->is_public();
  }
  s3::AwsChunkedReader r(gateway::source_from(as_bytes(body)), signing, trailer, body.size());
  char buf[4096];
  for (int i = 0; i < 4096; ++i) {  // bounded: every read consumes input or ends
    auto n = r.read(MutableByteSpan(reinterpret_cast<uint8_t*>(buf), sizeof(buf)));
    if (!n || *n == 0) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::World& w = fuzz::world();
  std::string in = fuzz::replace_all(std::string_view(reinterpret_cast<const char*>(data), size), "AKIDFUZZ",
                                     w.key.access_key_id);
  in = fuzz::replace_all(in, "SKFUZZ", w.key.secret_key);
  http::request_parser<http::string_body> p;
  p.eager(true);
  p.header_limit(16 << 10);
  p.body_limit(1 << 20);
  boost::beast::error_code ec;
  size_t used = p.put(boost::asio::buffer(in), ec);
  if (ec && ec != http::error::need_more) return 0;
  if (!p.is_header_done()) return 0;
  const auto& h = p.get();
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  for (const auto& f : h) fields.emplace_back(f.name_string(), f.value());
  s3::S3Request req;
  if (!s3::request_from_header(h.method_string(), h.target(), fields, "s3.fuzz", &req)) return 0;
  s3::AuthOutcome auth = s3::authenticate(req, *w.gw, kNow);
  if (const std::string* a = req.header("authorization")) (void)s3::parse_authorization(*a);
  std::string body = p.is_done() ? h.body() : in.substr(std::min(used, in.size()));
  bool trailer = size > 0 && (data[size - 1] & 1);
  body_paths(body, trailer, std::nullopt);
  form_paths(body, req.header_or("content-type"));
  (void)s3::acl_from_headers(req);
  s3::ChunkSigning signing;
  signing.amz_date = "20260101T000000Z";
  signing.credential = s3::Credential{w.key.access_key_id, "20260101", "us-east-1", "s3"};
  signing.key = s3::signing_key(w.key.secret_key, signing.credential);
  signing.seed_signature = std::string(64, '0');
  body_paths(body, trailer, auth.result.chunk_signing ? auth.result.chunk_signing : std::optional(signing));
  return 0;
}
