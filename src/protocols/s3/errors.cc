#include "protocols/s3/errors.h"

#include "protocols/s3/xml.h"

namespace kiseki::s3 {

S3Error make_s3_error(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message)};
}

S3Error s3_error(const Status& st, Subject subject) {
  const std::string& m = st.message();
  // The Gateway tags multipart completion errors with the S3 code they are.
  for (const char* tag : {"InvalidPartOrder", "InvalidPart", "EntityTooSmall", "MalformedXML", "BadDigest",
                          "InvalidDigest", "XAmzContentSHA256Mismatch", "IncompleteBody", "InvalidRequest", "InvalidTag",
                          "MalformedPOSTRequest", "InvalidPolicyDocument", "EntityTooLarge",
                          "MaxPostPreDataLengthExceeded", "MalformedPolicy",
                          "MalformedACLError", "UnresolvableGrantByEmailAddress", "AccessControlListNotSupported",
                          "InvalidBucketAclWithObjectOwnership"}) {
    std::string prefix = std::string(tag) + ":";
    if (m.compare(0, prefix.size(), prefix) == 0)
      return {400, tag, m.size() > prefix.size() + 1 ? m.substr(prefix.size() + 1) : m};
  }
  if (m.starts_with("NoSuchVersion:")) return {404, "NoSuchVersion", "The specified version does not exist."};
  if (m.starts_with("InvalidBucketState:")) return {409, "InvalidBucketState", m.substr(20)};
  switch (st.code()) {
    case ErrorCode::kOk: return {200, "", ""};
    case ErrorCode::kNotFound:
    case ErrorCode::kStale:
      if (subject == Subject::kBucket) return {404, "NoSuchBucket", "The specified bucket does not exist"};
      if (subject == Subject::kUpload) return {404, "NoSuchUpload", "The specified upload does not exist"};
      return {404, "NoSuchKey", "The specified key does not exist."};
    case ErrorCode::kExists:
      if (subject == Subject::kBucket && m.starts_with("BucketAlreadyExists:"))
        return {409, "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is shared by all users of the "
                "system. Please select a different name and try again."};
      return {409, subject == Subject::kBucket ? "BucketAlreadyOwnedByYou" : "OperationAborted", m};
    case ErrorCode::kNotEmpty: return {409, "BucketNotEmpty", "The bucket you tried to delete is not empty"};
    case ErrorCode::kNotDirectory:
    case ErrorCode::kIsDirectory:
      // A key that would be both an object and a prefix of other keys.
      return {409, "KeyPathConflict", m};
    case ErrorCode::kNameTooLong: return {400, "KeyTooLongError", "Your key is too long"};
    case ErrorCode::kInvalidArgument: return {400, "InvalidArgument", m};
    case ErrorCode::kPermissionDenied: return {403, "AccessDenied", m.empty() ? "Access Denied" : m};
    case ErrorCode::kCryptoShredded: return {403, "AccessDenied", "The tenant's data was crypto-shredded"};
    case ErrorCode::kNotPermitted: return {403, "AccessDenied", "Access Denied"};
    case ErrorCode::kPreconditionFailed:
      return {412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"};
    case ErrorCode::kNoSpace: return {507, "InsufficientStorage", m};
    case ErrorCode::kQuotaExceeded: return {403, "QuotaExceeded", m};
    case ErrorCode::kConflict: return {409, "OperationAborted", m};
    case ErrorCode::kUnavailable: return {503, "SlowDown", m};
    case ErrorCode::kTimeout: return {400, "RequestTimeout", m};
    case ErrorCode::kNotSupported: return {501, "NotImplemented", m};
    case ErrorCode::kCorruption:
    case ErrorCode::kIoError: return {500, "InternalError", m};
  }
  return {500, "InternalError", m};
}

std::string error_xml(const S3Error& e, std::string_view resource, std::string_view request_id) {
  XmlWriter x;
  x.open("Error").leaf("Code", e.code).leaf("Message", e.message).leaf("Resource", resource);
  x.leaf("RequestId", request_id).close("Error");
  return x.take();
}

}  // namespace kiseki::s3
