// Gateway: the protocol-neutral API that S3, NFS, FUSE and the native protocol
// call. Tenant-scoped file and object operations over one namespace, one error
// model. Safe for many concurrent callers.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chunk/chunk_store.h"
#include "chunk/chunker.h"
#include "common/clock.h"
#include "common/durability.h"
#include "crypto/key_manager.h"
#include "gateway/content.h"
#include "gateway/types.h"
#include "log/delta_log.h"
#include "meta/store.h"
#include "namespace/delta.h"
#include "namespace/state_machine.h"

namespace kiseki::gateway {

struct GatewayOptions {
  std::string data_dir = "./var";
  Durability durability = Durability::kSync;
  uint32_t group_commit_ms = 5;
  chunk::ChunkerParams object_chunking;        // FastCDC for whole-object writes
  uint32_t file_chunk_bytes = 1 << 20;         // pieces of one file write at an offset
  uint32_t inline_threshold = 4096;            // files up to this size live in metadata
  uint64_t segment_bytes = 256ull << 20;
  const Clock* clock = &SystemClock::instance();
};

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> open(const GatewayOptions& opts);
  ~Gateway();

  // ---- tenants, namespaces, access keys
  Result<TenantId> create_tenant(std::string_view name);
  Result<TenantInfo> find_tenant(std::string_view name) const;
  Result<TenantInfo> get_tenant(TenantId id) const;
  std::vector<TenantInfo> list_tenants() const;
  // Destroys the tenant's key: its files cannot be read afterwards, anywhere.
  Status shred_tenant(TenantId id);

  Result<NsRef> create_namespace(TenantId tenant, std::string_view name, bool public_read = false);
  Result<NamespaceInfo> find_namespace(TenantId tenant, std::string_view name) const;
  Result<NamespaceInfo> get_namespace(NamespaceId id) const;
  std::vector<NamespaceInfo> list_namespaces(TenantId tenant) const;
  Status delete_namespace(TenantId tenant, std::string_view name);

  Result<AccessKey> create_access_key(TenantId tenant);
  // Stores a caller-chosen key pair (KISEKI_ROOT_ACCESS_KEY and friends).
  Status put_access_key(const AccessKey& key);
  Result<AccessKey> get_access_key(std::string_view access_key_id) const;
  Status delete_access_key(std::string_view access_key_id);

  // ---- file operations (POSIX semantics)
  Result<FileAttr> lookup(NsRef ns, InodeId parent, std::string_view name) const;
  Result<FileAttr> getattr(NsRef ns, InodeId ino) const;
  Result<FileAttr> setattr(NsRef ns, InodeId ino, const SetAttrRequest& req);
  Result<FileAttr> create(NsRef ns, InodeId parent, std::string_view name, uint32_t mode,
                          const Caller& who, bool exclusive);
  Result<FileAttr> mkdir(NsRef ns, InodeId parent, std::string_view name, uint32_t mode, const Caller& who);
  Result<FileAttr> symlink(NsRef ns, InodeId parent, std::string_view name, std::string_view target,
                           const Caller& who);
  Result<std::string> readlink(NsRef ns, InodeId ino) const;
  Result<FileAttr> link(NsRef ns, InodeId ino, InodeId new_parent, std::string_view new_name);
  Status unlink(NsRef ns, InodeId parent, std::string_view name);
  Status rmdir(NsRef ns, InodeId parent, std::string_view name);
  Status rename(NsRef ns, InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name);
  // Entries after `cookie` (0 = from the start), in stable cookie order.
  Result<std::vector<DirEntry>> readdir(NsRef ns, InodeId dir, uint64_t cookie, size_t max_entries) const;
  // readdir with each entry's attributes (NFS READDIRPLUS), read in batches.
  Result<std::vector<DirEntryPlus>> readdir_plus(NsRef ns, InodeId dir, uint64_t cookie, size_t max_entries) const;
  // Reads up to `length` bytes at `offset`; short at end of file.
  Result<Bytes> read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length) const;
  // Writes at any offset (holes read as zeros); returns the new attributes. An
  // unstable write (NFS UNSTABLE) is visible at once but durable only after the
  // next fsync, whatever the durability mode; a stable one follows the mode.
  Result<FileAttr> write(NsRef ns, InodeId ino, uint64_t offset, ByteSpan data, bool stable = true);
  // Makes every write acknowledged so far durable: forces what `group`, `none`
  // and unstable writes left in the page cache.
  Status fsync(NsRef ns, InodeId ino);

  // ---- object operations (S3 semantics; a key is a path)
  // `meta` is read once `body` is consumed, so the body's source may add to it
  // (checksums that are known only at the end of the stream).
  // A key ending in '/' with an empty body is a folder marker: the explicit
  // directory of that name (NFS and FUSE mkdir make the same thing).
  Result<ObjectInfo> put_object(NsRef ns, std::string_view key, const ByteSource& body,
                                const ObjectMeta& meta, const PutConditions& cond = {});
  Result<ObjectInfo> head_object(NsRef ns, std::string_view key) const;
  Result<Bytes> get_object(NsRef ns, std::string_view key, const ByteRange& range,
                           ObjectInfo* info) const;
  // Opens an object for reads in pieces (large GETs); see ObjectHandle.
  Result<ObjectHandle> open_object(NsRef ns, std::string_view key) const;
  Status read_object(const ObjectHandle& h, uint64_t offset, uint64_t length, Bytes* out) const;
  Status delete_object(NsRef ns, std::string_view key);
  // Copies within or across namespaces of one tenant; `meta` replaces the source's
  // metadata when given (metadata directive REPLACE).
  Result<ObjectInfo> copy_object(NsRef src, std::string_view src_key, NsRef dst,
                                 std::string_view dst_key, const std::optional<ObjectMeta>& meta);
  Result<ListResult> list_objects(NsRef ns, const ListRequest& req) const;

  // ---- multipart uploads
  Result<std::string> create_upload(NsRef ns, std::string_view key, const ObjectMeta& meta);
  Result<PartInfo> upload_part(NsRef ns, std::string_view upload_id, uint32_t part, const ByteSource& body);
  Result<ObjectInfo> complete_upload(NsRef ns, std::string_view upload_id,
                                     const std::vector<std::pair<uint32_t, std::string>>& parts);
  Status abort_upload(NsRef ns, std::string_view upload_id);
  Result<std::vector<PartInfo>> list_parts(NsRef ns, std::string_view upload_id) const;
  Result<std::vector<UploadInfo>> list_uploads(NsRef ns, std::string_view prefix) const;

  // ---- maintenance
  chunk::ScrubReport scrub() const;
  // Rewrites the live chunks of sealed segments whose live fraction is below
  // `threshold`, then removes them. Returns the number of segments removed.
  Result<size_t> compact(double threshold = 0.5);

  chunk::ChunkStore* chunks() const { return chunks_.get(); }
  meta::Store* store() const { return meta_.get(); }

 private:
  // A body chunked, sealed and stored by prepare_stream, ready for a delta.
  struct PreparedData {
    std::string inline_data;
    std::vector<Extent> extents;
    std::vector<chunk::PreparedChunk> prepared;
    uint64_t size = 0;
    std::array<uint8_t, 16> md5{};
  };
  explicit Gateway(const GatewayOptions& opts) : opts_(opts) {}
  Status init();

  Result<crypto::SecretKey> tenant_key(TenantId t) const;
  Status load_inode(NsRef ns, InodeId ino, ns::Inode* out) const;
  // The inode a key names: a file, or for "a/b/" an explicit directory.
  Result<InodeId> resolve_key(NsRef ns, std::string_view key, ns::Inode* inode) const;
  Result<ObjectInfo> put_folder(NsRef ns, std::string_view key, const ByteSource& body);
  // A kPutObject delta for `key` with a fresh object's attributes and times.
  ns::Delta object_delta(NsRef ns, std::string_view key, uint64_t size) const;
  Result<std::string> submit(std::vector<ns::Delta> deltas, bool durable = true);
  Result<FileAttr> make_node(NsRef ns, InodeId parent, std::string_view name, ns::Inode tmpl,
                             bool exclusive);
  // Chunks, seals and stores a body; small bodies stay inline when allowed.
  Result<PreparedData> prepare_stream(TenantId tenant, const ByteSource& body, bool want_md5,
                                      bool allow_inline);
  Status read_range(const Content& c, uint64_t size, uint64_t offset,
                    uint64_t length, Bytes* out) const;
  Status remove_entry(NsRef ns, InodeId parent, std::string_view name, bool rmdir);
  ObjectInfo object_info(std::string_view key, const ns::Inode& inode, const Content& c) const;
  // For a kPutObject delta: if `key` holds an object, expect its version and drop
  // its chunk references (when this is its last link). Returns its content, if any.
  Result<std::optional<Content>> replace_target(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                                ns::Delta* d) const;
  std::mutex& inode_lock(NsRef ns, InodeId ino) const;
  int64_t now() const { return opts_.clock->now_ns(); }

  GatewayOptions opts_;
  std::unique_ptr<crypto::FileKeyManager> keys_;
  std::unique_ptr<meta::Store> meta_;
  std::unique_ptr<chunk::SegmentStore> segments_;
  std::unique_ptr<chunk::ChunkStore> chunks_;
  std::unique_ptr<chunk::Chunker> chunker_;
  ns::StateMachine sm_;
  std::unique_ptr<log::DeltaLog> log_;
  // Striped per-inode locks serialise read-modify-write of one file's layout.
  mutable std::array<std::mutex, 256> inode_locks_;
  // Unstable writes acknowledged, and how many of them fsync has made durable.
  std::atomic<uint64_t> unstable_writes_{0}, unstable_synced_{0};
  // Every S3 request authenticates and names a bucket: both answers are cached.
  // Entries go when a key or namespace is deleted and when a tenant is shredded.
  mutable std::mutex cache_mu_;  // guards the two caches below
  mutable std::unordered_map<std::string, AccessKey> key_cache_;
  mutable std::map<std::pair<TenantId, std::string>, NamespaceInfo, std::less<>> ns_cache_;
  void forget_tenant(TenantId t);
};

// Splits an S3 key into path components; kInvalidArgument / kNameTooLong if it
// cannot be a path. A trailing '/' names a folder marker.
Status validate_key(std::string_view key);
bool is_folder_key(std::string_view key);
constexpr std::string_view kEmptyEtag = "d41d8cd98f00b204e9800998ecf8427e";  // MD5 of nothing

FileAttr to_attr(const ns::Inode& i);

}  // namespace kiseki::gateway
