// Program, procedure and status numbers of ONC RPC's portmapper (RFC 1833),
// MOUNT v3 and NFSv3 (RFC 1813).
#pragma once

#include <cstdint>

namespace kiseki::nfs {

constexpr uint32_t kProgPortmap = 100000;
constexpr uint32_t kProgNfs = 100003;
constexpr uint32_t kProgMount = 100005;
constexpr uint32_t kIpProtoTcp = 6;
constexpr uint32_t kIpProtoUdp = 17;

enum Nfs3Proc : uint32_t {
  kNfs3Null = 0, kNfs3Getattr, kNfs3Setattr, kNfs3Lookup, kNfs3Access, kNfs3Readlink, kNfs3Read,
  kNfs3Write, kNfs3Create, kNfs3Mkdir, kNfs3Symlink, kNfs3Mknod, kNfs3Remove, kNfs3Rmdir,
  kNfs3Rename, kNfs3Link, kNfs3Readdir, kNfs3Readdirplus, kNfs3Fsstat, kNfs3Fsinfo,
  kNfs3Pathconf, kNfs3Commit, kNfs3ProcCount
};

enum Nfs3Status : uint32_t {
  kNfs3Ok = 0, kNfs3ErrPerm = 1, kNfs3ErrNoent = 2, kNfs3ErrIo = 5, kNfs3ErrNxio = 6,
  kNfs3ErrAcces = 13, kNfs3ErrExist = 17, kNfs3ErrXdev = 18, kNfs3ErrNodev = 19,
  kNfs3ErrNotdir = 20, kNfs3ErrIsdir = 21, kNfs3ErrInval = 22, kNfs3ErrFbig = 27,
  kNfs3ErrNospc = 28, kNfs3ErrRofs = 30, kNfs3ErrMlink = 31, kNfs3ErrNametoolong = 63,
  kNfs3ErrNotempty = 66, kNfs3ErrDquot = 69, kNfs3ErrStale = 70, kNfs3ErrRemote = 71,
  kNfs3ErrBadhandle = 10001, kNfs3ErrNotSync = 10002, kNfs3ErrBadCookie = 10003,
  kNfs3ErrNotsupp = 10004, kNfs3ErrToosmall = 10005, kNfs3ErrServerfault = 10006,
  kNfs3ErrBadtype = 10007, kNfs3ErrJukebox = 10008
};

enum Ftype3 : uint32_t { kNf3Reg = 1, kNf3Dir, kNf3Blk, kNf3Chr, kNf3Lnk, kNf3Sock, kNf3Fifo };

enum StableHow : uint32_t { kUnstable = 0, kDataSync = 1, kFileSync = 2 };
enum CreateMode : uint32_t { kCreateUnchecked = 0, kCreateGuarded = 1, kCreateExclusive = 2 };

// ACCESS bits
constexpr uint32_t kAccessRead = 0x01, kAccessLookup = 0x02, kAccessModify = 0x04,
                   kAccessExtend = 0x08, kAccessDelete = 0x10, kAccessExecute = 0x20;

// FSINFO properties
constexpr uint32_t kFsfLink = 0x01, kFsfSymlink = 0x02, kFsfHomogeneous = 0x08, kFsfCanSetTime = 0x10;

constexpr uint32_t kNfs3FhMax = 64;
constexpr uint32_t kMaxPathLen = 1024;  // MNTPATHLEN
constexpr uint32_t kMaxNameLen = 255;   // MNTNAMLEN and the file API's NAME_MAX

enum MountProc : uint32_t { kMntNull = 0, kMntMnt, kMntDump, kMntUmnt, kMntUmntall, kMntExport };
enum MountStat : uint32_t {
  kMnt3Ok = 0, kMnt3ErrPerm = 1, kMnt3ErrNoent = 2, kMnt3ErrIo = 5, kMnt3ErrAcces = 13,
  kMnt3ErrNotdir = 20, kMnt3ErrInval = 22, kMnt3ErrNametoolong = 63, kMnt3ErrNotsupp = 10004,
  kMnt3ErrServerfault = 10006
};

enum PortmapProc : uint32_t { kPmapNull = 0, kPmapSet, kPmapUnset, kPmapGetport, kPmapDump, kPmapCallit };

}  // namespace kiseki::nfs
