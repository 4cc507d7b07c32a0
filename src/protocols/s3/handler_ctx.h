// The per-request context the S3 handlers share (private to the handler files).
#pragma once

#include "protocols/s3/handler.h"

namespace kiseki::s3 {

struct S3Handler::Ctx {
  S3Request& req;
  RequestBody& body;
  AuthResult auth;
  const char* op = "Unknown";
  int64_t now = 0;
  uint64_t bytes_in = 0;
};

}  // namespace kiseki::s3
