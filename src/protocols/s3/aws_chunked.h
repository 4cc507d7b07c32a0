// Decoder of aws-chunked request bodies (Content-Encoding: aws-chunked):
//   hex-size[;chunk-signature=SIG]\r\n data \r\n … 0[;chunk-signature=SIG]\r\n
//   [trailer: value\r\n …][x-amz-trailer-signature:SIG\r\n]\r\n
// Signed chunks are checked one by one (each signature chains on the previous,
// starting at the request's seed signature); a bad chunk or a truncated body is
// an error from read(), so a put that streams through it commits nothing.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "crypto/primitives.h"
#include "gateway/types.h"
#include "protocols/s3/sigv4.h"

namespace kiseki::s3 {

struct ChunkSigning {
  crypto::Digest key;
  std::string amz_date;
  Credential credential;
  std::string seed_signature;
};

class AwsChunkedReader {
 public:
  // `signing` empty: unsigned chunks (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
  AwsChunkedReader(gateway::ByteSource raw, std::optional<ChunkSigning> signing, bool expect_trailer,
                   uint64_t decoded_length);
  // Decoded payload bytes; 0 at the end (after the trailer was read and checked).
  Result<size_t> read(MutableByteSpan out);
  gateway::ByteSource source();
  // Trailing headers (lower-case names), once read() returned 0.
  const std::map<std::string, std::string>& trailers() const { return trailers_; }

 private:
  Status fill(size_t want);                  // buffer at least `want` raw bytes
  Result<std::string> read_line(size_t max);  // one CRLF-terminated line
  Status start_chunk();
  Status finish_chunk();
  Status read_trailers();

  gateway::ByteSource raw_;
  std::optional<ChunkSigning> signing_;
  bool expect_trailer_;
  uint64_t decoded_length_;
  uint64_t decoded_ = 0;
  std::string buf_;
  size_t pos_ = 0;
  bool raw_eof_ = false;
  uint64_t chunk_left_ = 0;
  bool in_chunk_ = false;
  bool done_ = false;
  std::string chunk_signature_;
  std::string prev_signature_;
  struct Sha256;
  std::shared_ptr<Sha256> sha_;
  std::map<std::string, std::string> trailers_;
};

}  // namespace kiseki::s3
