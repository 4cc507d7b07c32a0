// The request body on its way into the Gateway: aws-chunked decoding, and the
// digests S3 clients send along (x-amz-content-sha256, Content-MD5,
// x-amz-checksum-*), computed as the bytes stream and checked at the end. A
// mismatch fails the read, so the put it feeds commits nothing.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "gateway/types.h"
#include "protocols/s3/auth.h"
#include "protocols/s3/request.h"

namespace kiseki::s3 {

class BodyReader {
 public:
  // Checks the request's headers; an S3Error if they are malformed.
  // Verified checksums are also written into `checksum_sink` (if given) when the
  // stream ends, before the Gateway builds the object's metadata.
  // `md5_by_caller`: the caller checks Content-MD5 against an MD5 of the body it
  // computes anyway (a PUT's ETag, before anything is written), so the body is
  // not hashed twice; content_md5() is then the digest to check.
  static Result<std::unique_ptr<BodyReader>> make(const S3Request& req, const AuthResult& auth,
                                                  gateway::ByteSource raw,
                                                  std::map<std::string, std::string>* checksum_sink = nullptr,
                                                  bool md5_by_caller = false);
  ~BodyReader();
  gateway::ByteSource source();
  Result<size_t> read(MutableByteSpan out);
  uint64_t bytes() const { return bytes_; }
  // x-amz-checksum-<algo> → base64 value, as verified (to store and return).
  const std::map<std::string, std::string>& checksums() const { return verified_; }
  // The request's Content-MD5, if any, when the caller checks it (md5_by_caller).
  const std::optional<std::array<uint8_t, 16>>& content_md5() const { return content_md5_; }

 private:
  struct Digests;
  BodyReader() = default;
  Status finish();

  gateway::ByteSource inner_;
  std::unique_ptr<AwsChunkedReader> chunked_;
  std::unique_ptr<Digests> d_;
  std::string want_sha256_hex_;
  std::string want_md5_b64_;
  std::optional<std::array<uint8_t, 16>> content_md5_;
  std::string checksum_algo_;  // "crc32", "crc32c", "sha1", "sha256" or ""
  std::string want_checksum_b64_;
  bool checksum_in_trailer_ = false;
  std::map<std::string, std::string> verified_;
  std::map<std::string, std::string>* sink_ = nullptr;
  uint64_t bytes_ = 0;
  bool finished_ = false;
};

std::string base64_encode(ByteSpan b);
bool base64_decode(std::string_view s, Bytes* out);

}  // namespace kiseki::s3
