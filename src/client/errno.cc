#include "client/errno.h"

#include <cerrno>

namespace kiseki::client {

int to_errno(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kNotFound: return ENOENT;
    case ErrorCode::kExists: return EEXIST;
    case ErrorCode::kNotDirectory: return ENOTDIR;
    case ErrorCode::kIsDirectory: return EISDIR;
    case ErrorCode::kNotEmpty: return ENOTEMPTY;
    case ErrorCode::kNameTooLong: return ENAMETOOLONG;
    case ErrorCode::kPermissionDenied: return EACCES;
    case ErrorCode::kInvalidArgument: return EINVAL;
    case ErrorCode::kNoSpace: return ENOSPC;
    case ErrorCode::kQuotaExceeded: return EDQUOT;
    case ErrorCode::kStale: return ESTALE;
    case ErrorCode::kConflict: return EBUSY;
    case ErrorCode::kUnavailable: return EIO;  // retried for retry_for first (client.h)
    case ErrorCode::kCorruption: return EIO;
    case ErrorCode::kIoError: return EIO;
    case ErrorCode::kTimeout: return ETIMEDOUT;
    case ErrorCode::kNotSupported: return EOPNOTSUPP;
    case ErrorCode::kPreconditionFailed: return EAGAIN;
    case ErrorCode::kCryptoShredded: return ESTALE;
    case ErrorCode::kNotPermitted: return EPERM;
  }
  return EIO;
}

}  // namespace kiseki::client
