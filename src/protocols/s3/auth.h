// Authentication of S3 requests: SigV4 in the Authorization header or in a
// presigned URL, anonymous requests, clock skew and expiry. The payload itself is
// checked as it streams (body.h).
#pragma once

#include <optional>

#include "gateway/gateway.h"
#include "protocols/s3/aws_chunked.h"
#include "protocols/s3/errors.h"
#include "protocols/s3/request.h"

namespace kiseki::s3 {

struct AuthResult {
  bool anonymous = true;
  TenantId tenant = 0;
  std::string access_key;
  std::string user;  // the key's user of the tenant; "" for the tenant's own key
  // x-amz-content-sha256 as sent: a hex digest to verify, UNSIGNED-PAYLOAD, or a
  // STREAMING-* mode; empty for presigned and anonymous requests.
  std::string payload_hash;
  std::optional<ChunkSigning> chunk_signing;  // signed aws-chunked bodies
};

struct AuthOutcome {
  std::optional<S3Error> error;
  AuthResult result;
};

constexpr int64_t kMaxSkewNs = 15ll * 60 * 1'000'000'000;
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;

AuthOutcome authenticate(const S3Request& req, const gateway::Gateway& gw, int64_t now_ns);

// "20130524T000000Z" → ns since the epoch; false if malformed.
bool parse_amz_date(std::string_view s, int64_t* ns);

}  // namespace kiseki::s3
