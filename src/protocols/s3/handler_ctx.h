// The per-request context the S3 handlers share (private to the handler files).
#pragma once

#include "gateway/version_names.h"
#include "protocols/s3/handler.h"

namespace kiseki::s3 {

// Standard headers and x-amz-meta-* of a PUT/copy/create-upload request (or
// of a form upload's fields, as headers) as the object's metadata.
Result<gateway::ObjectMeta> meta_from(const S3Request& q);
// A key S3 takes: not too long, and a path (gateway::validate_key).
Status key_error_if_invalid(const std::string& key);
std::string quoted(const std::string& etag);
std::string unquote(std::string s);
// "bytes=a-b", "bytes=a-", "bytes=-n" of an object of `size`: false for syntax
// S3 ignores (the whole object); `unsatisfiable` for a start past the end.
bool parse_range(const std::string& h, uint64_t size, uint64_t* off, uint64_t* len, bool* unsatisfiable);
// x-amz-copy-source: "/bucket/key?versionId=…" or "bucket/key", URL-encoded.
bool parse_copy_source(const std::string& raw, std::string* bucket, std::string* key, std::string* version = nullptr);
// What a listing asks (prefix, delimiter, max-keys; markers are each
// listing's own) and its encoding-type: none, or "url" (keys URL-encoded).
struct Listing {
  gateway::ListRequest request;
  bool url = false;
  static Result<Listing> of(const S3Request& q);  // InvalidArgument for a bad value
  std::string key(const std::string& s) const { return url ? uri_encode(s, true) : s; }
  // InvalidArgument when keys XML cannot carry are to be listed unencoded.
  Status check_key(std::string_view key) const;
  Status check(const gateway::ListResult& r) const;
};

// A Status that s3_error answers as NoSuchVersion.
constexpr const char* kNoSuchVersion = "NoSuchVersion: no such version";

struct S3Handler::Ctx {
  S3Request& req;
  RequestBody& body;
  AuthResult auth;
  const char* op = "Unknown";
  int64_t now = 0;
  uint64_t bytes_in = 0;
};

}  // namespace kiseki::s3
