// S3 errors: the code, HTTP status and message of an S3 error document, and
// the one mapping from Kiseki's ErrorCode onto them.
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::s3 {

struct S3Error {
  int http_status = 500;
  std::string code;  // "NoSuchKey", …
  std::string message;
};

// What a NotFound means depends on what the request named.
enum class Subject { kObject, kBucket, kUpload, kService };

S3Error s3_error(const Status& st, Subject subject);
S3Error make_s3_error(int status, std::string code, std::string message);

// <Error><Code/><Message/><Resource/><RequestId/></Error>
std::string error_xml(const S3Error& e, std::string_view resource, std::string_view request_id);

}  // namespace kiseki::s3
