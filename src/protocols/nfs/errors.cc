#include "protocols/nfs/errors.h"

namespace kiseki::nfs {

Nfs3Status nfs3_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return kNfs3Ok;
    case ErrorCode::kNotFound: return kNfs3ErrNoent;
    case ErrorCode::kExists: return kNfs3ErrExist;
    case ErrorCode::kNotDirectory: return kNfs3ErrNotdir;
    case ErrorCode::kIsDirectory: return kNfs3ErrIsdir;
    case ErrorCode::kNotEmpty: return kNfs3ErrNotempty;
    case ErrorCode::kNameTooLong: return kNfs3ErrNametoolong;
    case ErrorCode::kPermissionDenied: return kNfs3ErrAcces;
    case ErrorCode::kInvalidArgument: return kNfs3ErrInval;
    case ErrorCode::kNoSpace: return kNfs3ErrNospc;
    case ErrorCode::kQuotaExceeded: return kNfs3ErrDquot;
    case ErrorCode::kStale: return kNfs3ErrStale;
    // A conflict that survived the gateway's retries, or a name that is both a
    // key and a prefix: the client may retry later.
    case ErrorCode::kConflict: return kNfs3ErrJukebox;
    case ErrorCode::kUnavailable: return kNfs3ErrJukebox;
    case ErrorCode::kTimeout: return kNfs3ErrJukebox;
    case ErrorCode::kCorruption: return kNfs3ErrIo;
    case ErrorCode::kIoError: return kNfs3ErrIo;
    case ErrorCode::kNotSupported: return kNfs3ErrNotsupp;
    case ErrorCode::kPreconditionFailed: return kNfs3ErrNotSync;
    case ErrorCode::kCryptoShredded: return kNfs3ErrStale;  // the data is gone for good
    case ErrorCode::kNotPermitted: return kNfs3ErrPerm;
  }
  return kNfs3ErrServerfault;
}

const char* nfs3_status_name(uint32_t s) {
  switch (s) {
    case kNfs3Ok: return "OK";
    case kNfs3ErrPerm: return "PERM";
    case kNfs3ErrNoent: return "NOENT";
    case kNfs3ErrIo: return "IO";
    case kNfs3ErrNxio: return "NXIO";
    case kNfs3ErrAcces: return "ACCES";
    case kNfs3ErrExist: return "EXIST";
    case kNfs3ErrXdev: return "XDEV";
    case kNfs3ErrNodev: return "NODEV";
    case kNfs3ErrNotdir: return "NOTDIR";
    case kNfs3ErrIsdir: return "ISDIR";
    case kNfs3ErrInval: return "INVAL";
    case kNfs3ErrFbig: return "FBIG";
    case kNfs3ErrNospc: return "NOSPC";
    case kNfs3ErrRofs: return "ROFS";
    case kNfs3ErrMlink: return "MLINK";
    case kNfs3ErrNametoolong: return "NAMETOOLONG";
    case kNfs3ErrNotempty: return "NOTEMPTY";
    case kNfs3ErrDquot: return "DQUOT";
    case kNfs3ErrStale: return "STALE";
    case kNfs3ErrRemote: return "REMOTE";
    case kNfs3ErrBadhandle: return "BADHANDLE";
    case kNfs3ErrNotSync: return "NOT_SYNC";
    case kNfs3ErrBadCookie: return "BAD_COOKIE";
    case kNfs3ErrNotsupp: return "NOTSUPP";
    case kNfs3ErrToosmall: return "TOOSMALL";
    case kNfs3ErrServerfault: return "SERVERFAULT";
    case kNfs3ErrBadtype: return "BADTYPE";
    case kNfs3ErrJukebox: return "JUKEBOX";
  }
  return "UNKNOWN";
}

}  // namespace kiseki::nfs
