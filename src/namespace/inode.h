// Inode records and dentries as stored in the metadata store. `content` is opaque
// here: the gateway seals it with the tenant key (layout, inline data, object
// metadata), so this layer never sees file contents or chunk ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/status.h"

namespace kiseki::ns {

enum class FileType : uint8_t { kFile = 1, kDirectory = 2, kSymlink = 3 };

constexpr InodeId kRootInode = 1;
constexpr size_t kMaxNameBytes = 255;        // file API (POSIX NAME_MAX)
constexpr size_t kMaxKeyComponentBytes = 1024;  // S3 keys: one component may be the whole key
constexpr uint64_t kFirstCookie = 3;  // 0 starts a listing; 1 and 2 are "." and ".."
// The hidden directory of a namespace's object versions (ADR 0012): linked from
// nowhere, beyond the numbers the namespace's inode counter reaches.
constexpr InodeId kVersionsInode = UINT64_MAX - 1;

enum InodeFlags : uint32_t {
  kImplicitDir = 1u << 0,  // made for an S3 key prefix; removed when it empties
  kDeleteMarker = 1u << 1,  // a version that says its key was deleted (no content)
  kDirObject = 1u << 2,     // a directory that carries an object of its own key (ADR 0013)
};

// ADR 0013: the object a directory carries appears to the file API as this
// entry of the directory, under a synthetic inode number (the directory's with
// kObjectOfBit set, beyond what the inode counter reaches) and, in listings,
// the cookie kObjectCookie (after every real entry's).
constexpr std::string_view kObjectEntryName = ".kiseki-object";
constexpr InodeId kObjectOfBit = 1ull << 62;
constexpr uint64_t kObjectCookie = 1ull << 62;
constexpr InodeId object_of(InodeId dir) { return dir | kObjectOfBit; }
constexpr bool is_object_of(InodeId ino) { return (ino & kObjectOfBit) != 0 && ino != kVersionsInode; }
constexpr InodeId dir_of_object(InodeId ino) { return ino & ~kObjectOfBit; }

struct Attr {
  uint32_t mode = 0;  // permission bits only (no type bits)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
};

// S3 object lock (ADR 0012) of a file or version: kept unsealed, so that apply
// refuses (kNotPermitted) to delete, replace or rewrite a locked inode through
// any protocol. Locked: under a legal hold, or with a mode while the delta's
// time is before retain_until_ns.
enum class LockMode : uint8_t { kNone = 0, kGovernance = 1, kCompliance = 2 };
struct ObjectLock {
  LockMode mode = LockMode::kNone;
  int64_t retain_until_ns = 0;
  bool legal_hold = false;
  bool any() const { return mode != LockMode::kNone || legal_hold; }
  bool operator==(const ObjectLock&) const = default;
};

// What a change of an object lock sets (kSetLock's `a`).
enum LockMask : uint64_t {
  kSetRetention = 1u << 0,
  kSetLegalHold = 1u << 1,
};

struct Inode {
  InodeId ino = kInvalidInode;
  FileType type = FileType::kFile;
  uint32_t flags = 0;
  Attr attr;
  int64_t btime_ns = 0;
  uint32_t nlink = 1;
  uint64_t size = 0;
  uint64_t generation = 0;   // unique per created inode: file handles check it
  uint64_t version = 0;      // bumped by every change; optimistic concurrency
  // Directories: their one parent. Files: the directory of their first link
  // (kInvalidInode once that link is gone while others stay, or for files made
  // before it was kept), to name the object's key (ADR 0012).
  InodeId parent = kInvalidInode;
  uint64_t next_cookie = kFirstCookie;  // directories only
  std::string content;       // tenant-sealed by the gateway; opaque here
  ObjectLock lock;           // files and versions only
  std::string name;          // the name in `parent` ("" where unknown)
  int64_t object_mtime_ns = 0;  // kDirObject: the carried object's mtime (ADR 0013)

  bool is_dir() const { return type == FileType::kDirectory; }
  bool carries_object() const { return is_dir() && (flags & kDirObject); }
  // Holds an object's content: a file, a version, or a directory with an object.
  bool has_object() const { return type == FileType::kFile || carries_object(); }
  // When the object it holds was last written: a carried object's own time, not
  // the directory's, which its entries move.
  int64_t object_mtime() const { return carries_object() ? object_mtime_ns : attr.mtime_ns; }
};

std::string encode_inode(const Inode& i);
Status decode_inode(std::string_view v, Inode* i);
// All but `content` (left empty): for attributes only, as READDIRPLUS wants
// them for every entry. Checks the record as decode_inode does.
Status decode_inode_attrs(std::string_view v, Inode* i);

struct Dentry {
  InodeId ino = kInvalidInode;
  FileType type = FileType::kFile;
  uint64_t cookie = 0;
};
std::string encode_dentry(const Dentry& d);
Status decode_dentry(std::string_view v, Dentry* d);

// A directory's entry in cookie order (readdir): written and removed with its
// dentry, never changed in place, so it carries the dentry's inode and type
// and a listing needs no dentry lookups. Entries written before it did hold
// only the name: decode_dircookie then leaves `ino` 0 (look the dentry up).
struct DirCookieEntry {
  std::string name;
  InodeId ino = 0;
  FileType type = FileType::kFile;
};
std::string encode_dircookie(std::string_view name, InodeId ino, FileType type);
Status decode_dircookie(std::string_view v, DirCookieEntry* e);

// Names: 1..max_bytes bytes, no '/', no NUL, not "." or "..".
// Names (file names, S3 key components, tenant and namespace names) are valid
// UTF-8, not "." or "..", without '/' or NUL, up to max_bytes.
Status validate_name(std::string_view name, size_t max_bytes = kMaxNameBytes);
bool valid_utf8(std::string_view s);

}  // namespace kiseki::ns
