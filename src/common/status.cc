#include "common/status.h"

#include <cstring>

namespace kiseki {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kExists: return "Exists";
    case ErrorCode::kNotDirectory: return "NotDirectory";
    case ErrorCode::kIsDirectory: return "IsDirectory";
    case ErrorCode::kNotEmpty: return "NotEmpty";
    case ErrorCode::kNameTooLong: return "NameTooLong";
    case ErrorCode::kPermissionDenied: return "PermissionDenied";
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kNoSpace: return "NoSpace";
    case ErrorCode::kQuotaExceeded: return "QuotaExceeded";
    case ErrorCode::kStale: return "Stale";
    case ErrorCode::kConflict: return "Conflict";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kCorruption: return "Corruption";
    case ErrorCode::kIoError: return "IoError";
    case ErrorCode::kTimeout: return "Timeout";
    case ErrorCode::kNotSupported: return "NotSupported";
    case ErrorCode::kPreconditionFailed: return "PreconditionFailed";
    case ErrorCode::kCryptoShredded: return "CryptoShredded";
    case ErrorCode::kNotPermitted: return "NotPermitted";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string s(error_code_name(code_));
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

Status errno_status(std::string_view what, int err) {
  ErrorCode code = ErrorCode::kIoError;
  if (err == ENOSPC) code = ErrorCode::kNoSpace;
  else if (err == ENOENT) code = ErrorCode::kNotFound;
  else if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return {code, std::move(msg)};
}

}  // namespace kiseki
