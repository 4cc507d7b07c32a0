// Protocol-neutral request and result types of the Gateway.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/redundancy.h"
#include "common/status.h"
#include "namespace/inode.h"

namespace kiseki::gateway {

using ns::FileType;

// A namespace as a caller names it: resolved once (find_namespace), then passed
// to every call.
struct NsRef {
  TenantId tenant = 0;
  NamespaceId ns = 0;
};

struct TenantInfo {
  TenantId id = 0;
  std::string name;
  bool shredded = false;
  bool shared_dedup = false;  // its chunks are in the shared dedup domain
};

struct NamespaceInfo {
  NsRef ref;
  std::string name;
  bool public_read = false;
  int64_t created_ns = 0;
  // In a cluster, how its chunks are kept (none: a single node's, or one made
  // before policies: the cluster's legacy replicas=3).
  std::optional<Redundancy> durability;
};

struct AccessKey {
  std::string access_key_id;
  std::string secret_key;
  TenantId tenant = 0;
  std::string user;  // the tenant's user the key is of; "" for the tenant's own (root) key
};

// A user of a tenant: a name its access keys carry (S3 policies name it).
struct UserInfo {
  std::string name;
  int64_t created_ns = 0;
};

struct FileAttr {
  InodeId ino = 0;
  FileType type = FileType::kFile;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t generation = 0;
  InodeId parent = 0;  // directories only: the one parent (the root is its own)
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0, btime_ns = 0;
};

// Who calls a file operation (after any squashing the protocol does), and the
// request id that makes a retried mutation apply once (empty: the Gateway
// assigns one).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;
  RequestId req;
};

// Capacity of the file system the data lives on (NFS FSSTAT, statfs).
struct FsStats {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t avail_bytes = 0;
  uint64_t total_files = 0;
  uint64_t free_files = 0;
};

// What a reference check found (Gateway::check_references).
struct ReferenceReport {
  uint64_t inodes = 0;
  uint64_t chunk_refs = 0;      // references counted from layouts and parts
  uint64_t chunks = 0;          // chunks with a reference count
  uint64_t located = 0;         // chunks with bytes on this node
  std::vector<std::string> problems;
};

// What a namespace and a tenant hold (Gateway::usage). Logical bytes are file
// sizes; stored bytes are what the data takes on this node's disk: the sealed
// chunks the files reference (each counted once) plus data kept inline in the
// metadata. logical / stored is the dedup (and compression) ratio.
struct UsageCounts {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t logical_bytes = 0;
  uint64_t chunks = 0;          // distinct chunks referenced
  uint64_t chunk_bytes = 0;     // their sealed size on disk
  uint64_t inline_files = 0;    // files whose bytes live in the metadata
  uint64_t inline_bytes = 0;
  // Versions kept of objects (ADR 0012; delete markers too), apart from `files`,
  // and their logical bytes (their chunks count in `chunks` as any file's).
  uint64_t versions = 0;
  uint64_t version_bytes = 0;
  uint64_t stored_bytes() const { return chunk_bytes + inline_bytes; }
};

struct NamespaceUsage {
  NamespaceInfo ns;
  UsageCounts counts;
};

struct TenantUsage {
  TenantInfo tenant;
  UsageCounts counts;  // over its namespaces, a chunk shared by two counted once
};

struct UsageReport {
  std::vector<TenantUsage> tenants;
  std::vector<NamespaceUsage> namespaces;
  UsageCounts total;
};

// What Gateway::backup wrote.
struct BackupReport {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

struct SetAttrRequest {
  std::optional<uint32_t> mode, uid, gid;
  std::optional<uint64_t> size;
  std::optional<int64_t> atime_ns, mtime_ns;  // set to "now" by the caller if needed
  // false: a size change is durable at the next fsync, as an unstable write
  // (a local file system's truncate); NFS's SETATTR keeps it synced.
  bool stable = true;
};

struct DirEntry {
  std::string name;
  InodeId ino = 0;
  FileType type = FileType::kFile;
  uint64_t cookie = 0;  // pass back to continue after this entry
};

struct DirEntryPlus {
  DirEntry entry;
  FileAttr attr;
};

// Pulls the body of a streaming put: fills `buf`, returns bytes read, 0 at end.
using ByteSource = std::function<Result<size_t>(MutableByteSpan buf)>;
ByteSource source_from(ByteSpan data);

struct ObjectMeta {
  std::string content_type;
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> user_meta;
  // Kept unsealed in the inode, where apply enforces it (ADR 0012).
  ns::ObjectLock lock;
};

// A delete that applies only to the object as the caller saw it.
struct DeleteConditions {
  std::optional<std::string> if_match;              // its ETag
  std::optional<int64_t> if_unmodified_since_ns;    // not written after this
};

struct PutConditions {
  bool if_none_match_star = false;          // fail if the object exists
  std::optional<std::string> if_match;      // fail unless the ETag matches
  // The body's MD5 must be this (S3 Content-MD5): checked against the ETag's
  // MD5 before anything is written (BadDigest otherwise).
  std::optional<std::array<uint8_t, 16>> content_md5;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  int64_t mtime_ns = 0;
  ObjectMeta meta;
  std::vector<uint64_t> part_sizes;  // of a multipart upload, in order; else empty
  // Versioning (ADR 0012): the version's id, "" for the null version (a write's
  // answer says "null" when the namespace is versioned); a delete marker has no data.
  std::string version_id;
  bool delete_marker = false;
};

// A namespace's versioning (S3 bucket versioning), kept as its configuration
// item "versioning": Enabled or Suspended once set, never back to off.
enum class Versioning { kOff, kEnabled, kSuspended };
constexpr std::string_view kVersioningItem = "versioning";

// What a delete did: the version it removed or the delete marker it made.
struct DeletedObject {
  std::string version_id;  // "null" for the null version; "" in an unversioned namespace
  bool delete_marker = false;
};

struct VersionListRequest {
  std::string prefix;
  std::string key_marker;         // after this key's versions …
  std::string version_id_marker;  // … or after this one of them
  uint32_t max_keys = 1000;
};

struct ObjectVersion {
  ObjectInfo info;         // info.version_id: "null" for the null version
  bool latest = false;
};

// Versions in key order, newest first within a key.
struct VersionList {
  std::vector<ObjectVersion> versions;
  bool truncated = false;  // then continue after the last one
};

// An object opened for reading: its layout is pinned at open, so a GET streamed
// in pieces returns one version even if the key is overwritten meanwhile.
struct ObjectHandle {
  ObjectInfo info;
  TenantId tenant = 0;
  std::shared_ptr<const struct Content> content;
};

// A pinned read gives at most this many slices unless told otherwise (an
// iovec array that one send takes whole); the rest is read on from its end.
constexpr size_t kPinnedSlices = 64;

// A piece of an object read for sending as it lies: slices of opened chunks
// that `pins` keeps alive (no copy), or one slice of `copy`. Release it once
// sent, so that a crypto-shred's zeroing of the chunks is not held up.
struct PinnedBytes {
  std::vector<ByteSpan> slices;
  std::vector<std::shared_ptr<const void>> pins;
  Bytes copy;
  uint64_t size = 0;  // of all the slices
  void release() {
    slices.clear();
    pins.clear();
    size = 0;
  }
};

struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;  // to the end if absent
};

struct ListRequest {
  std::string prefix;
  std::string delimiter;
  std::string start_after;  // exclusive: continuation tokens and markers map onto it
  uint32_t max_keys = 1000;
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_start_after;  // last key or prefix returned, when truncated
};

struct UploadInfo {
  std::string upload_id;
  std::string key;
  int64_t initiated_ns = 0;
};

struct PartInfo {
  uint32_t number = 0;
  std::string etag;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::map<std::string, std::string> checksums;  // as the caller gave them (S3: x-amz-checksum-*)
};

// Called by complete_upload with the parts chosen, in order, and the object's
// metadata to be (the upload's): may add to it, or refuse the completion.
using CompleteHook = std::function<Status(const std::vector<PartInfo>& parts, ObjectMeta* meta)>;

constexpr size_t kMaxKeyBytes = 1024;
constexpr uint32_t kMaxPartNumber = 10000;

}  // namespace kiseki::gateway
