// AWS Signature Version 4 for S3, as a pure codec: no sockets, no clock. The
// server feeds it the request's method, raw path and query, headers and payload
// hash; tests feed it AWS's published examples.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "crypto/primitives.h"

namespace kiseki::s3 {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view kStreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Credential scope: AKID/20130524/us-east-1/s3/aws4_request
struct Credential {
  std::string access_key;
  std::string date;     // YYYYMMDD
  std::string region;
  std::string service;
  std::string scope() const { return date + "/" + region + "/" + service + "/aws4_request"; }
};

struct AuthHeader {
  Credential credential;
  std::vector<std::string> signed_headers;  // lower case, as listed
  std::string signature;                    // lower-case hex
};

// Parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
Result<AuthHeader> parse_authorization(std::string_view header);
Result<Credential> parse_credential(std::string_view value);

// RFC 3986 percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~
// (and '/' when `keep_slash`) is %XX with upper-case hex.
std::string uri_encode(std::string_view s, bool keep_slash);
// Decodes %XX (and, if `plus_is_space`, '+'); false on a malformed escape.
bool uri_decode(std::string_view s, std::string* out, bool plus_is_space = false);

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in order
// Splits a raw query string ("a=1&b&c=x%20y"); false on a malformed escape.
bool parse_query(std::string_view raw, QueryParams* out, bool plus_is_space = false);
// Sorted, re-encoded "k=v&…", leaving out X-Amz-Signature (presigned URLs).
std::string canonical_query(const QueryParams& params);

struct CanonicalInput {
  std::string_view method;
  std::string_view decoded_path;  // "/bucket/key with spaces"
  const QueryParams* query = nullptr;
  // Lower-case name → values in arrival order, for the signed headers.
  const std::map<std::string, std::vector<std::string>>* headers = nullptr;
  const std::vector<std::string>* signed_headers = nullptr;
  std::string_view payload_hash;
};
std::string canonical_request(const CanonicalInput& in);

std::string string_to_sign(std::string_view amz_date, const Credential& cred, std::string_view canonical);
crypto::Digest signing_key(std::string_view secret, const Credential& cred);
std::string sign_hex(const crypto::Digest& key, std::string_view string_to_sign);

// aws-chunked: signature of one chunk given the previous signature.
std::string chunk_string_to_sign(std::string_view amz_date, const Credential& cred, std::string_view prev_signature,
                                 ByteSpan chunk);
std::string trailer_string_to_sign(std::string_view amz_date, const Credential& cred,
                                   std::string_view prev_signature, std::string_view trailer_block);

// Constant-time comparison of two hex signatures.
bool signatures_equal(std::string_view a, std::string_view b);

}  // namespace kiseki::s3
