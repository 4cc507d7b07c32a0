// Gateway: the protocol-neutral API that S3, NFS, FUSE and the native protocol
// call. Tenant-scoped file and object operations over one namespace, one error
// model. Safe for many concurrent callers.
//
// An interface: LocalGateway (local_gateway.h) runs the operations on this
// node's stores; a remote stub (the native client, the cluster's forwarding to
// a shard leader) implements the same calls. Nothing here exposes a store.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chunk/segment_store.h"
#include "chunk/chunker.h"
#include "common/clock.h"
#include "common/durability.h"
#include "common/env.h"
#include "gateway/types.h"

namespace kiseki::gateway {

struct GatewayOptions {
  std::string data_dir = "./var";
  Durability durability = Durability::kSync;
  uint32_t group_commit_ms = 5;
  chunk::ChunkerParams object_chunking;        // FastCDC for whole-object writes
  uint32_t file_chunk_bytes = 1 << 20;         // pieces of one file write at an offset
  uint32_t inline_threshold = 4096;            // files up to this size live in metadata
  uint64_t segment_bytes = 256ull << 20;
  // Chunk appends stop (kNoSpace: S3 507, NFS NOSPC) while the data file
  // system has less than this free, so deletes and compaction still fit.
  uint64_t reserve_bytes = 256ull << 20;
  // Opened (decrypted, verified) chunks kept in memory for reads; 0: none.
  uint64_t chunk_cache_bytes = 128ull << 20;
  // Files and clock of every store under the Gateway (tests inject faults here).
  Env* env = &Env::posix();
  // Sees every delta record in apply order (tests replay the stream elsewhere).
  std::function<void(std::string_view record)> on_apply;
  // A cluster node's log and chunk copies (gateway/replication.h); null on a
  // single node. Not owned; outlives the Gateway.
  class Replication* replication = nullptr;
};

// An access key pair formed from 60 bytes of random material (its id "KS" and
// 18 letters or digits, its secret 40 base64 characters).
AccessKey make_access_key(TenantId tenant, ByteSpan material);

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> open(const GatewayOptions& opts);
  virtual ~Gateway() = default;

  // ---- tenants, namespaces, access keys
  // `shared_dedup`: the tenant's chunks go to the shared dedup domain, where equal
  // content of every tenant that opts in is stored once (docs/security.md says
  // what that gives away); otherwise the tenant has a domain of its own.
  virtual Result<TenantId> create_tenant(std::string_view name, bool shared_dedup = false) = 0;
  virtual Result<TenantInfo> find_tenant(std::string_view name) const = 0;
  virtual Result<TenantInfo> get_tenant(TenantId id) const = 0;
  virtual std::vector<TenantInfo> list_tenants() const = 0;
  // Crypto-shred: destroys the tenant's key (no copy left in the key directory
  // or the metadata store's files), takes its namespaces off every protocol at
  // once and drops its access keys; what is left of its namespaces and its
  // chunks is purged in the background (purge_shredded).
  virtual Status shred_tenant(TenantId id) = 0;
  // Purges every shredded tenant's remains now, then rewrites the metadata
  // store's files so that none of their names is left in them. The background
  // purge calls it; tests and tools may wait for it.
  virtual Status purge_shredded() = 0;

  virtual Result<NsRef> create_namespace(TenantId tenant, std::string_view name, bool public_read = false,
                                               std::optional<Redundancy> durability = std::nullopt) = 0;
  virtual Result<NamespaceInfo> find_namespace(TenantId tenant, std::string_view name) const = 0;
  virtual Result<NamespaceInfo> get_namespace(NamespaceId id) const = 0;
  virtual std::vector<NamespaceInfo> list_namespaces(TenantId tenant) const = 0;
  // The namespace of a global name, whichever tenant's it is (an S3 request
  // that names a bucket without an access key: anonymous reads, CORS preflight).
  virtual Result<NamespaceInfo> find_bucket(std::string_view name) const = 0;
  virtual Status delete_namespace(TenantId tenant, std::string_view name) = 0;
  // A namespace's configuration items (ADR 0011): documents a protocol keeps
  // per namespace (S3's bucket tagging, CORS …), named by it, opaque here,
  // up to 64 KiB each. An empty document removes the item; a get of an item
  // the namespace lacks answers kNotFound. Read from a cache on every node.
  virtual Status put_namespace_config(NsRef ns, std::string_view item, std::string_view doc) = 0;
  virtual Result<std::string> get_namespace_config(NsRef ns, std::string_view item) const = 0;

  // `user`: a key of that user of the tenant (it must exist); "": the tenant's own.
  virtual Result<AccessKey> create_access_key(TenantId tenant, std::string_view user = "") = 0;
  // Stores a caller-chosen key pair (KISEKI_ROOT_ACCESS_KEY and friends).
  virtual Status put_access_key(const AccessKey& key) = 0;
  virtual Result<AccessKey> get_access_key(std::string_view access_key_id) const = 0;
  virtual Status delete_access_key(std::string_view access_key_id) = 0;
  // A tenant's access keys, its users' too (secrets left empty: they stay sealed).
  virtual Result<std::vector<AccessKey>> list_access_keys(TenantId tenant) const = 0;
  // Users: names of 1..64 of A-Z a-z 0-9 + = , . @ _ -; deleting one deletes its keys.
  virtual Status create_user(TenantId tenant, std::string_view name) = 0;
  virtual Result<std::vector<UserInfo>> list_users(TenantId tenant) const = 0;
  virtual Status delete_user(TenantId tenant, std::string_view name) = 0;

  // ---- file operations (POSIX semantics)
  // Every call takes the Caller it runs for and applies the permission model of
  // permissions.h; Caller{} is root. A mutation with the caller's request id
  // applies once.
  virtual Result<FileAttr> lookup(NsRef ns, InodeId parent, std::string_view name,
                                  const Caller& who = {}) const = 0;
  virtual Result<FileAttr> getattr(NsRef ns, InodeId ino) const = 0;
  virtual Result<FileAttr> setattr(NsRef ns, InodeId ino, const SetAttrRequest& req, const Caller& who = {}) = 0;
  virtual Result<FileAttr> create(NsRef ns, InodeId parent, std::string_view name, uint32_t mode,
                          const Caller& who, bool exclusive) = 0;
  virtual Result<FileAttr> mkdir(NsRef ns, InodeId parent, std::string_view name, uint32_t mode, const Caller& who) = 0;
  virtual Result<FileAttr> symlink(NsRef ns, InodeId parent, std::string_view name, std::string_view target,
                           const Caller& who) = 0;
  virtual Result<std::string> readlink(NsRef ns, InodeId ino) const = 0;
  virtual Result<FileAttr> link(NsRef ns, InodeId ino, InodeId new_parent, std::string_view new_name,
                                const Caller& who = {}) = 0;
  virtual Status unlink(NsRef ns, InodeId parent, std::string_view name, const Caller& who = {}) = 0;
  virtual Status rmdir(NsRef ns, InodeId parent, std::string_view name, const Caller& who = {}) = 0;
  // `no_replace`: kExists if the target exists, checked in the same apply
  // that renames (renameat2's RENAME_NOREPLACE).
  virtual Status rename(NsRef ns, InodeId parent, std::string_view name, InodeId new_parent,
                        std::string_view new_name, const Caller& who = {}, bool no_replace = false) = 0;
  // Entries after `cookie` (0 = from the start), in stable cookie order.
  virtual Result<std::vector<DirEntry>> readdir(NsRef ns, InodeId dir, uint64_t cookie, size_t max_entries,
                                                const Caller& who = {}) const = 0;
  // readdir with each entry's attributes (NFS READDIRPLUS), read in batches.
  // An entry whose inode cannot be read is left out; fewer than `max_entries`
  // entries means the end of the directory.
  virtual Result<std::vector<DirEntryPlus>> readdir_plus(NsRef ns, InodeId dir, uint64_t cookie,
                                                         size_t max_entries, const Caller& who = {}) const = 0;
  // Reads up to `length` bytes at `offset` into `out`; short at end of file. A
  // buffer used again for reads of at most its size is not cleared first
  // (every byte returned is written), so a caller may keep one per thread.
  virtual Status read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                      Bytes* out) const = 0;
  Result<Bytes> read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who = {}) const {
    Bytes out;
    KISEKI_TRY(read(ns, ino, offset, length, who, &out));
    return out;
  }
  // The same bytes without a copy where they are opened chunks (see
  // read_object_pinned); may return fewer than asked short of the end.
  virtual Status read_pinned(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                             PinnedBytes* out, size_t max_slices = kPinnedSlices) const = 0;
  // Writes at any offset (holes read as zeros); returns the new attributes. An
  // unstable write (NFS UNSTABLE) is visible at once but durable only after the
  // next fsync, whatever the durability mode; a stable one follows the mode.
  virtual Result<FileAttr> write(NsRef ns, InodeId ino, uint64_t offset, ByteSpan data, bool stable = true,
                                 const Caller& who = {}) = 0;
  // Makes every write acknowledged so far durable: forces what `group`, `none`
  // and unstable writes left in the page cache.
  virtual Status fsync(NsRef ns, InodeId ino) = 0;
  // fsync for everything: every write acknowledged so far, of every namespace
  // and of the tenants and keys, is durable when it returns, in every mode.
  virtual Status sync() = 0;
  // Whether this node runs the cluster's periodic work (S3 lifecycle): a single
  // node always; in a cluster the root shard's leader, so one node does it.
  virtual bool coordinates() const = 0;

  // ---- object operations (S3 semantics; a key is a path)
  // `meta` is read once `body` is consumed, so the body's source may add to it
  // (checksums that are known only at the end of the stream).
  // A key ending in '/' with an empty body is a folder marker: the explicit
  // directory of that name (NFS and FUSE mkdir make the same thing).
  virtual Result<ObjectInfo> put_object(NsRef ns, std::string_view key, const ByteSource& body,
                                const ObjectMeta& meta, const PutConditions& cond = {}) = 0;
  virtual Result<ObjectInfo> head_object(NsRef ns, std::string_view key) const = 0;
  virtual Result<Bytes> get_object(NsRef ns, std::string_view key, const ByteRange& range,
                           ObjectInfo* info) const = 0;
  // Opens an object for reads in pieces (large GETs); see ObjectHandle.
  virtual Result<ObjectHandle> open_object(NsRef ns, std::string_view key) const = 0;
  virtual Status read_object(const ObjectHandle& h, uint64_t offset, uint64_t length, Bytes* out) const = 0;
  // The same bytes without a copy where they are opened chunks; may return
  // fewer than `length` (at most `max_slices` slices): read on from the end.
  virtual Status read_object_pinned(const ObjectHandle& h, uint64_t offset, uint64_t length,
                                    PinnedBytes* out, size_t max_slices = kPinnedSlices) const = 0;
  // kPreconditionFailed when `cond` does not hold (checked in the attempt that
  // deletes). In a versioned namespace the object becomes a version and a
  // delete marker is made (`out` says which).
  virtual Status delete_object(NsRef ns, std::string_view key, const DeleteConditions& cond = {},
                               DeletedObject* out = nullptr) = 0;
  // Copies within or across namespaces of one tenant; `meta` replaces the source's
  // metadata when given (metadata directive REPLACE). `src_version`: a version of
  // the source ("" the current one).
  virtual Result<ObjectInfo> copy_object(NsRef src, std::string_view src_key, NsRef dst,
                                 std::string_view dst_key, const std::optional<ObjectMeta>& meta,
                                 std::string_view src_version = {}) = 0;

  // ---- object versions (ADR 0012). Writers of objects read the namespace's
  // versioning (kVersioningItem) and put their decision into the record.
  // A version by id ("null": the null version), current or not; kNotFound if
  // there is none. A delete marker opens with info.delete_marker set.
  virtual Result<ObjectHandle> open_object_version(NsRef ns, std::string_view key,
                                                   std::string_view version_id) const = 0;
  // Removes one version for good; if it was the current one, the newest
  // remaining version becomes current (unless that is a delete marker).
  // `bypass_governance`: a GOVERNANCE retention does not hold (the caller may).
  virtual Result<DeletedObject> delete_object_version(NsRef ns, std::string_view key, std::string_view version_id,
                                                     bool bypass_governance = false) = 0;
  // Sets a version's retention (mask ns::kSetRetention) and/or legal hold
  // (ns::kSetLegalHold). A retention in force only lengthens (a GOVERNANCE
  // one may change with `bypass_governance`); kNotPermitted otherwise.
  virtual Status set_object_lock(NsRef ns, std::string_view key, std::string_view version_id, uint64_t mask,
                                 const ns::ObjectLock& lock, bool bypass_governance = false) = 0;
  virtual Result<VersionList> list_object_versions(NsRef ns, const VersionListRequest& req) const = 0;
  // Changes an object's metadata (content type, stored headers, user metadata,
  // tags) and keeps its data and ETag: `edit` sees the metadata as it is when the
  // change applies (again, if the object is replaced meanwhile).
  using MetaEdit = std::function<Status(ObjectMeta* meta)>;
  virtual Result<ObjectInfo> edit_object_meta(NsRef ns, std::string_view key, const MetaEdit& edit) = 0;
  virtual Result<ListResult> list_objects(NsRef ns, const ListRequest& req) const = 0;

  // ---- multipart uploads
  virtual Result<std::string> create_upload(NsRef ns, std::string_view key, const ObjectMeta& meta) = 0;
  // `checksums` (if given) is read once `body` is consumed and kept with the part;
  // `content_md5` (S3 Content-MD5) is checked against the part's ETag MD5 before
  // anything is written (BadDigest).
  virtual Result<PartInfo> upload_part(NsRef ns, std::string_view upload_id, uint32_t part, const ByteSource& body,
                                       const std::map<std::string, std::string>* checksums = nullptr,
                                       const std::optional<std::array<uint8_t, 16>>& content_md5 = std::nullopt) = 0;
  virtual Result<ObjectInfo> complete_upload(NsRef ns, std::string_view upload_id,
                                     const std::vector<std::pair<uint32_t, std::string>>& parts,
                                     const CompleteHook& hook = {}) = 0;
  virtual Status abort_upload(NsRef ns, std::string_view upload_id) = 0;
  virtual Result<std::vector<PartInfo>> list_parts(NsRef ns, std::string_view upload_id) const = 0;
  virtual Result<std::vector<UploadInfo>> list_uploads(NsRef ns, std::string_view prefix) const = 0;

  // ---- NFS exports (replicated: stored through the log) and cluster secrets
  // Export options by path ("/tenant/namespace"); the NFS layer parses them.
  virtual Status put_export(std::string_view path, std::string_view options) = 0;
  virtual Status delete_export(std::string_view path) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> list_exports() const = 0;
  // A random secret of `bytes` bytes made once for the cluster and kept in its
  // replicated state (for example the key that MACs NFS file handles).
  virtual Result<std::string> cluster_secret(std::string_view name, size_t bytes) = 0;

  // ---- capacity and maintenance
  virtual Result<FsStats> statfs() const = 0;
  virtual chunk::ScrubReport scrub() const = 0;
  // Rewrites the live chunks of sealed segments whose live fraction is below
  // `threshold`, then removes them. Returns the number of segments removed.
  virtual Result<size_t> compact(double threshold = 0.5) = 0;
  // A consistent copy of this node's data directory in `dir` (which must not
  // exist): a checkpoint of the metadata, the segments it points into, the keys
  // and the server's files (credentials, admin tokens), and last a manifest
  // (kiseki-backup.json) that `kiseki restore` checks. Compaction waits meanwhile.
  virtual Result<BackupReport> backup(const std::string& dir) = 0;
  // Counts every layout and multipart reference to every chunk and compares the
  // counts with the replicated reference counts and with the chunks this node
  // holds: a consistency check for tests and operators.
  virtual Result<ReferenceReport> check_references() const = 0;
  // Damage the open found and served past (referenced chunks whose bytes are
  // gone), in words; empty when there is none. The server reports it as degraded.
  virtual std::string damage_at_open() const = 0;
  // Why this node refuses writes (a failed segment or WAL sync: fail-stop until
  // a restart), in words; empty while it takes them.
  virtual std::string write_fault() const = 0;
  // What every tenant and namespace holds (a scan of the metadata: seconds per
  // million files, for operators and `kiseki usage`, not for a hot path).
  virtual Result<UsageReport> usage() const = 0;
};

// Splits an S3 key into path components; kInvalidArgument / kNameTooLong if it
// cannot be a path. A trailing '/' names a folder marker.
Status validate_key(std::string_view key);
bool is_folder_key(std::string_view key);
constexpr std::string_view kEmptyEtag = "d41d8cd98f00b204e9800998ecf8427e";  // MD5 of nothing

}  // namespace kiseki::gateway
