// CORS: a bucket's cross-origin rules as S3 takes them (PutBucketCors' XML),
// keeps them (the same document in a canonical form, the namespace's "cors"
// configuration item, ADR 0011) and applies them: to preflight requests
// (OPTIONS) and to the responses of requests that carry an Origin.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

struct CorsRule {
  std::string id;
  std::vector<std::string> origins;  // each with at most one '*'
  std::vector<std::string> methods;  // GET, PUT, HEAD, POST, DELETE
  std::vector<std::string> headers;  // request headers allowed (lower case, at most one '*' each)
  std::vector<std::string> expose;   // response headers the browser may read
  std::optional<int64_t> max_age;    // seconds a preflight answer may be cached
};

inline constexpr std::string_view kCorsItem = "cors";

// <CORSConfiguration><CORSRule>…</CORSRule>…</CORSConfiguration>: MalformedXML
// for a document that is not one (no rule, a rule without an origin or a
// method), InvalidRequest for what S3 refuses (more than 100 rules, a method
// outside the five, more than one '*' in an origin or a header).
Result<std::vector<CorsRule>> parse_cors_xml(std::string_view body);
std::string cors_xml(const std::vector<CorsRule>& rules);  // GetBucketCors' document

// The first rule that lets `origin` send `method` with the request headers
// `headers` (any case), or null.
const CorsRule* match_cors(const std::vector<CorsRule>& rules, std::string_view origin, std::string_view method,
                           const std::vector<std::string>& headers = {});

// `pattern` with at most one '*' standing for any run of characters.
bool wildcard_match(std::string_view pattern, std::string_view s);

}  // namespace kiseki::s3
