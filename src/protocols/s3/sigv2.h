// AWS Signature Version 2 (HMAC-SHA1), as a pure codec: the string to sign of
// a request in the Authorization header ("AWS AKID:SIG") or of a presigned URL
// (AWSAccessKeyId, Expires, Signature). Older clients and the default of
// `aws s3 presign` and `s3cmd signurl` still use it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/s3/sigv4.h"

namespace kiseki::s3 {

// "/bucket/key?acl&versionId=3": the resource as signed, from the path as sent
// (bucket first, also for virtual-host-style requests) and the query's
// sub-resources, sorted, with their decoded values.
std::string v2_canonical_resource(std::string_view bucket_path, const QueryParams& query);

// VERB \n Content-MD5 \n Content-Type \n DATE \n x-amz-* headers \n… resource;
// DATE is the Date header, "" when x-amz-date is sent, or a presigned URL's Expires.
std::string v2_string_to_sign(std::string_view method, std::string_view content_md5,
                              std::string_view content_type, std::string_view date,
                              const std::map<std::string, std::vector<std::string>>& headers,
                              std::string_view resource);

// base64(HMAC-SHA1(secret, string_to_sign)).
std::string v2_signature(std::string_view secret, std::string_view string_to_sign);

}  // namespace kiseki::s3
