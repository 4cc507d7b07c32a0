// The Gateway on this node's own stores: key manager, metadata store, chunk
// store and delta log. Internal to the gateway module and the server that wires
// it up; protocols see only gateway.h.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <tuple>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "chunk/chunk_cache.h"
#include "chunk/chunk_store.h"
#include "crypto/key_manager.h"
#include "crypto/md5.h"
#include "gateway/content.h"
#include "gateway/dir_cache.h"
#include "gateway/gateway.h"
#include "gateway/generation_cache.h"
#include "gateway/object_cache.h"
#include "gateway/version_names.h"
#include "gateway/replication.h"
#include "log/delta_log.h"
#include "meta/store.h"
#include "namespace/delta.h"
#include "namespace/state_machine.h"

namespace kiseki::gateway {

Status validate_user_name(std::string_view name);

class LocalGateway final : public Gateway {
 public:
  static Result<std::unique_ptr<LocalGateway>> open(const GatewayOptions& opts);
  ~LocalGateway() override;

  // For tests that inspect or damage the stores underneath.
  meta::Store* store_for_test() const { return meta_.get(); }
  chunk::ChunkStore* chunks_for_test() const { return chunks_.get(); }
  const ObjectCache& opened_objects_for_test() const { return opened_; }
  const DirCache& listings_for_test() const { return listings_; }
  size_t cached_inodes_for_test() const { return inodes_.entries(); }
  // The keys of a dedup domain by its id (scrub; tests that read chunks):
  // kCryptoShredded for a shredded tenant's.
  Result<crypto::DomainKeys> keys_of_domain(DomainId d) const;

  // ---- tenants, namespaces, access keys
  Result<TenantId> create_tenant(std::string_view name, bool shared_dedup = false) override;
  Result<TenantInfo> find_tenant(std::string_view name) const override;
  Result<TenantInfo> get_tenant(TenantId id) const override;
  std::vector<TenantInfo> list_tenants() const override;
  Status shred_tenant(TenantId id) override;
  Status purge_shredded() override;

  Result<NsRef> create_namespace(TenantId tenant, std::string_view name, bool public_read = false,
                                               std::optional<Redundancy> durability = std::nullopt) override;
  Result<NamespaceInfo> find_namespace(TenantId tenant, std::string_view name) const override;
  Result<NamespaceInfo> get_namespace(NamespaceId id) const override;
  std::vector<NamespaceInfo> list_namespaces(TenantId tenant) const override;
  Result<NamespaceInfo> find_bucket(std::string_view name) const override;
  Status delete_namespace(TenantId tenant, std::string_view name) override;
  Status put_namespace_config(NsRef ns, std::string_view item, std::string_view doc) override;
  Result<std::string> get_namespace_config(NsRef ns, std::string_view item) const override;

  Result<AccessKey> create_access_key(TenantId tenant, std::string_view user = "") override;
  // Stores a caller-chosen key pair (KISEKI_ROOT_ACCESS_KEY and friends).
  Status put_access_key(const AccessKey& key) override;
  Result<AccessKey> get_access_key(std::string_view access_key_id) const override;
  Status delete_access_key(std::string_view access_key_id) override;
  Result<std::vector<AccessKey>> list_access_keys(TenantId tenant) const override;
  Status create_user(TenantId tenant, std::string_view name) override;
  Result<std::vector<UserInfo>> list_users(TenantId tenant) const override;
  Status delete_user(TenantId tenant, std::string_view name) override;

  // ---- file operations (POSIX semantics)
  Result<FileAttr> lookup(NsRef ns, InodeId parent, std::string_view name,
                          const Caller& who = {}) const override;
  Result<FileAttr> getattr(NsRef ns, InodeId ino) const override;
  Result<FileAttr> setattr(NsRef ns, InodeId ino, const SetAttrRequest& req, const Caller& who = {}) override;
  Result<FileAttr> create(NsRef ns, InodeId parent, std::string_view name, uint32_t mode,
                          const Caller& who, bool exclusive) override;
  Result<FileAttr> mkdir(NsRef ns, InodeId parent, std::string_view name, uint32_t mode, const Caller& who) override;
  Result<FileAttr> symlink(NsRef ns, InodeId parent, std::string_view name, std::string_view target,
                           const Caller& who) override;
  Result<std::string> readlink(NsRef ns, InodeId ino) const override;
  Result<FileAttr> link(NsRef ns, InodeId ino, InodeId new_parent, std::string_view new_name,
                                const Caller& who = {}) override;
  Status unlink(NsRef ns, InodeId parent, std::string_view name, const Caller& who = {}) override;
  Status rmdir(NsRef ns, InodeId parent, std::string_view name, const Caller& who = {}) override;
  Status rename(NsRef ns, InodeId parent, std::string_view name, InodeId new_parent,
                        std::string_view new_name, const Caller& who = {}, bool no_replace = false) override;
  // Entries after `cookie` (0 = from the start), in stable cookie order.
  Result<std::vector<DirEntry>> readdir(NsRef ns, InodeId dir, uint64_t cookie, size_t max_entries,
                                        const Caller& who = {}) const override;
  // readdir with each entry's attributes (NFS READDIRPLUS), read in batches.
  Result<std::vector<DirEntryPlus>> readdir_plus(NsRef ns, InodeId dir, uint64_t cookie,
                                                 size_t max_entries, const Caller& who = {}) const override;
  using Gateway::read;
  Status read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
              Bytes* out) const override;
  Status read_pinned(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                     PinnedBytes* out, size_t max_slices = kPinnedSlices) const override;
  // Writes at any offset (holes read as zeros); returns the new attributes. An
  // unstable write (NFS UNSTABLE) is visible at once but durable only after the
  // next fsync, whatever the durability mode; a stable one follows the mode.
  Result<FileAttr> write(NsRef ns, InodeId ino, uint64_t offset, ByteSpan data, bool stable = true,
                                 const Caller& who = {}) override;
  // Makes every write acknowledged so far durable: forces what `group`, `none`
  // and unstable writes left in the page cache.
  Status fsync(NsRef ns, InodeId ino) override;
  Status sync() override;

  // ---- object operations (S3 semantics; a key is a path)
  // `meta` is read once `body` is consumed, so the body's source may add to it
  // (checksums that are known only at the end of the stream).
  // A key ending in '/' with an empty body is a folder marker: the explicit
  // directory of that name (NFS and FUSE mkdir make the same thing).
  Result<ObjectInfo> put_object(NsRef ns, std::string_view key, const ByteSource& body,
                                const ObjectMeta& meta, const PutConditions& cond = {}) override;
  Result<ObjectInfo> head_object(NsRef ns, std::string_view key) const override;
  Result<Bytes> get_object(NsRef ns, std::string_view key, const ByteRange& range,
                           ObjectInfo* info) const override;
  // Opens an object for reads in pieces (large GETs); see ObjectHandle.
  Result<ObjectHandle> open_object(NsRef ns, std::string_view key) const override;
  Status read_object(const ObjectHandle& h, uint64_t offset, uint64_t length, Bytes* out) const override;
  Status read_object_pinned(const ObjectHandle& h, uint64_t offset, uint64_t length,
                            PinnedBytes* out, size_t max_slices = kPinnedSlices) const override;
  Status delete_object(NsRef ns, std::string_view key, const DeleteConditions& cond = {},
                       DeletedObject* out = nullptr) override;
  Result<ObjectHandle> open_object_version(NsRef ns, std::string_view key,
                                           std::string_view version_id) const override;
  Result<DeletedObject> delete_object_version(NsRef ns, std::string_view key, std::string_view version_id,
                                              bool bypass_governance = false) override;
  Status set_object_lock(NsRef ns, std::string_view key, std::string_view version_id, uint64_t mask,
                         const ns::ObjectLock& lock, bool bypass_governance = false) override;
  Result<VersionList> list_object_versions(NsRef ns, const VersionListRequest& req) const override;
  bool coordinates() const override { return log_->leads(); }
  // Copies within or across namespaces of one tenant; `meta` replaces the source's
  // metadata when given (metadata directive REPLACE).
  Result<ObjectInfo> copy_object(NsRef src, std::string_view src_key, NsRef dst, std::string_view dst_key,
                                 const std::optional<ObjectMeta>& meta, std::string_view src_version = {}) override;
  Result<ObjectInfo> edit_object_meta(NsRef ns, std::string_view key, const MetaEdit& edit) override;
  Result<ListResult> list_objects(NsRef ns, const ListRequest& req) const override;

  // ---- multipart uploads
  Result<std::string> create_upload(NsRef ns, std::string_view key, const ObjectMeta& meta) override;
  Result<PartInfo> upload_part(NsRef ns, std::string_view upload_id, uint32_t part, const ByteSource& body,
                               const std::map<std::string, std::string>* checksums = nullptr,
                               const std::optional<std::array<uint8_t, 16>>& content_md5 = std::nullopt) override;
  Result<ObjectInfo> complete_upload(NsRef ns, std::string_view upload_id,
                                     const std::vector<std::pair<uint32_t, std::string>>& parts,
                                     const CompleteHook& hook = {}) override;
  Status abort_upload(NsRef ns, std::string_view upload_id) override;
  Result<std::vector<PartInfo>> list_parts(NsRef ns, std::string_view upload_id) const override;
  Result<std::vector<UploadInfo>> list_uploads(NsRef ns, std::string_view prefix) const override;

  // ---- NFS exports (replicated: stored through the log) and cluster secrets
  // Export options by path ("/tenant/namespace"); the NFS layer parses them.
  Status put_export(std::string_view path, std::string_view options) override;
  Status delete_export(std::string_view path) override;
  Result<std::vector<std::pair<std::string, std::string>>> list_exports() const override;
  // A random secret of `bytes` bytes made once for the cluster and kept in its
  // replicated state (for example the key that MACs NFS file handles).
  Result<std::string> cluster_secret(std::string_view name, size_t bytes) override;

  // ---- capacity and maintenance
  Result<FsStats> statfs() const override;
  chunk::ScrubReport scrub() const override;
  // Rewrites the live chunks of sealed segments whose live fraction is below
  // `threshold`, then removes them. Returns the number of segments removed.
  Result<size_t> compact(double threshold = 0.5) override;
  // A consistent copy of this node's data directory in `dir` (which must not
  // exist): a checkpoint of the metadata, the segments it points into, the keys
  // and the server's files (credentials, admin tokens), and last a manifest
  // (kiseki-backup.json) that `kiseki restore` checks. Compaction waits meanwhile.
  Result<BackupReport> backup(const std::string& dir) override;
  // Counts every layout and multipart reference to every chunk and compares the
  // counts with the replicated reference counts and with the chunks this node
  // holds: a consistency check for tests and operators.
  Result<ReferenceReport> check_references() const override;
  std::string damage_at_open() const override { return chunks_->lost_at_open(); }
  std::string write_fault() const override;
  // What every tenant and namespace holds (a scan of the metadata: seconds per
  // million files, for operators and `kiseki usage`, not for a hot path).
  Result<UsageReport> usage() const override;

 private:
  // A body chunked, sealed and stored by prepare_stream, ready for a delta.
  struct PreparedData {
    std::string inline_data;
    std::vector<Extent> extents;
    std::vector<chunk::PreparedChunk> prepared;
    uint64_t size = 0;
    // The body's MD5. Its last run may still be queued for a shared round
    // (crypto::Md5::update_deferred): md5() waits for it.
    const std::array<uint8_t, 16>& md5();

   private:
    friend class LocalGateway;
    std::shared_ptr<const Bytes> held_;  // the buffer a queued run lies in
    crypto::Md5 md5_;                    // declared after held_: settles before it goes
    std::optional<std::array<uint8_t, 16>> md5_sum_;
  };
  explicit LocalGateway(const GatewayOptions& opts) : opts_(opts) {}
  Status init();

  Result<crypto::SecretKey> tenant_key(TenantId t) const;
  // copy_object and edit_object_meta: `edit` (if set) changes the copy's
  // metadata, read with the source in the same attempt.
  // `new_version`: the copy is a new version of dst_key (a copy; not an edit of
  // the object's metadata in place, which keeps its version).
  Result<ObjectInfo> copy_with(NsRef src, std::string_view src_key, std::string_view src_version, NsRef dst,
                               std::string_view dst_key, const MetaEdit& edit, bool new_version);
  // A namespace's tenant key, looked up once per check.
  using KeyCache = std::map<NamespaceId, Result<crypto::SecretKey>>;
  const Result<crypto::SecretKey>& namespace_key(NamespaceId ns, KeyCache* keys) const;
  // check.cc: every file layout of a store, decoded and opened (bad records
  // named in `problems` and passed; a shredded tenant's skipped quietly while
  // `awaiting_purge`).
  using LayoutVisitor = std::function<void(std::string_view key, std::string_view value, const ns::Inode& inode,
                                           const std::vector<Extent>& extents)>;
  Status for_each_layout(meta::Store* store, bool awaiting_purge, std::vector<std::string>* problems,
                         const LayoutVisitor& visit) const;
  std::set<DomainId> domains_awaiting_purge() const;
  void check_layouts(std::vector<std::string>* problems) const;
  // The keys of the tenant's dedup domain (its own, or the shared one).
  Result<crypto::DomainKeys> domain_keys(TenantId t) const;
  // The shared domain's root key, made once through the log (ensure_shared_domain).
  Result<crypto::SecretKey> shared_root() const;
  Status ensure_shared_domain();
  bool is_shredded(TenantId t) const;
  Status purge_tenant(const TenantInfo& t);
  std::mutex maintenance_mu_;  // one of compact and backup at a time
  void purge_loop();
  // Asks the background thread for a compaction pass (space is low).
  void want_compaction();
  void compact_for_space();
  void wake_purge();
  Status load_inode(NsRef ns, InodeId ino, ns::Inode* out) const;
  // Listings: the directory `dir` loaded into `d`, once the caller may list it;
  // its entries after `cookie`; those with their attributes (`to_end`: the
  // last entry was read).
  Status open_listing(NsRef ns, InodeId dir, const Caller& who, ns::Inode* d) const;
  Result<std::vector<DirEntry>> scan_dir(NsRef ns, const ns::Inode& d, uint64_t cookie, size_t max_entries) const;
  Result<std::vector<DirEntryPlus>> read_attrs(NsRef ns, const ns::Inode& d, uint64_t cookie, size_t max_entries,
                                               bool* to_end) const;
  // Entries a listing reads at once while nothing is written (DirCache).
  static constexpr size_t kListingBatch = 1024;
  // getattr and lookup as this node's store has them: for the Gateway's own
  // use after a write it applied (the public ones wait for a read barrier).
  Result<FileAttr> getattr_now(NsRef ns, InodeId ino) const;
  Result<FileAttr> lookup_now(NsRef ns, InodeId parent, std::string_view name, const Caller& who = {}) const;
  // The inode a key names: a file, or for "a/b/" an explicit directory.
  Result<InodeId> resolve_key(NsRef ns, std::string_view key, ns::Inode* inode) const;
  Result<ObjectInfo> put_folder(NsRef ns, std::string_view key, const ByteSource& body, const PutConditions& cond);
  // A kPutObject delta for `key` with a fresh object's attributes and times.
  ns::Delta object_delta(NsRef ns, std::string_view key, uint64_t size) const;
  // Applies a record through the log; after a commit that dropped chunk
  // references, the chunk store collects what became unreferenced. `who.req`
  // makes the record idempotent (one is assigned when it is empty).
  // `shard`: where to (default: the root for cluster-wide records, else the
  // shard of the namespace the deltas touch).
  // `finish` (if set) completes the deltas only when the log is about to
  // apply them (log::Log::submit_finished); its error fails this record alone.
  // It may change what the deltas say, not what they reference.
  using DeltaFinisher = std::function<Status(std::vector<ns::Delta>* deltas)>;
  Result<std::string> submit(std::vector<ns::Delta> deltas, bool durable = true, const Caller& who = {},
                             std::optional<uint32_t> shard = std::nullopt, const DeltaFinisher& finish = {});
  // The root directory of a namespace that lives in a data shard (idempotent).
  Status make_root(NamespaceId id) const;
  Result<FileAttr> make_node(NsRef ns, InodeId parent, std::string_view name, ns::Inode tmpl,
                             bool exclusive, const Caller& who);
  // The first result of the caller's request if it was applied before (a retry
  // across a reconnect or a restart): checked before anything else is.
  Result<std::optional<log::ApplyResult>> replayed(NsRef ns, const Caller& who) const;
  // For a replayed call that answers with attributes: the inode's attributes,
  // or the first call's error.
  Result<FileAttr> replayed_attr(NsRef ns, const log::ApplyResult& first, InodeId ino) const;
  // Permission checks that need a directory's attributes (skipped for root,
  // who passes them all).
  Status check_dir(NsRef ns, InodeId dir, const Caller& who, Status (*check)(const Caller&, const FileAttr&)) const;
  // check_dir_change on `dir` and, for an existing `victim`, the sticky bit.
  Status check_remove(NsRef ns, InodeId dir, const FileAttr* victim, const Caller& who) const;
  // Chunks, seals and stores a body; small bodies stay inline when allowed.
  Result<PreparedData> prepare_stream(TenantId tenant, const ByteSource& body, bool want_md5,
                                      bool allow_inline);
  // What a file read needs, after the checks every read makes (open_for_read).
  struct FileToRead {
    Content content;
    uint64_t size = 0;
    crypto::DomainKeys domain;
  };
  Status open_for_read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                       FileToRead* f) const;
  // `domain`: the keys of the chunks' domain (unused for inline content).
  Status read_range(const crypto::DomainKeys& domain, const Content& c, uint64_t size, uint64_t offset,
                    uint64_t length, Bytes* out) const;
  // The same range as slices of opened chunks, pinned, where it is chunks of
  // the reader's domain end to end; a copy otherwise (read_object_pinned).
  Status pin_range(const crypto::DomainKeys& domain, const Content& c, uint64_t size, uint64_t offset,
                   uint64_t length, size_t max_slices, PinnedBytes* out) const;
  // Reads and opens one chunk: this node's copy, or in a cluster another
  // node's when this one lacks it or its copy fails its check.
  // `keep`: a copy fetched from another node stays here (the caller pins it next).
  Status read_chunk(const crypto::DomainKeys& domain, const ChunkId& id, Bytes* out, bool keep = false) const;
  // A chunk of the reader's own domain, opened: from the cache, or read and
  // put there (the cache must be enabled).
  Result<std::shared_ptr<const chunk::OpenedChunk>> open_cached(const crypto::DomainKeys& domain,
                                                                const ChunkId& id) const;
  // In a cluster: what a record applied on this node changes outside the
  // store (caches of keys and namespaces, a shredded tenant's key).
  void note_applied(std::string_view record);
  // In a cluster: the store's state was replaced by another node's snapshot.
  void note_reset();
  Status remove_entry(NsRef ns, InodeId parent, std::string_view name, bool rmdir, const Caller& who);
  // The file API's removal of a directory's object (ADR 0013): a DELETE of its key.
  Status remove_dir_object(NsRef ns, InodeId dir, const Caller& who);
  ObjectInfo object_info(std::string_view key, const ns::Inode& inode, const Content& c) const;
  // For a kPutObject delta: if `key` holds an object, expect its version and drop
  // its chunk references (its layout is replaced for every link). Returns its
  // content, if any. With `next` the write is a new version in a versioned
  // namespace (versions.cc): next->version_id is set, the replaced object kept
  // as a version, and `also` gets deltas for the same record; `state` gets the
  // namespace's versioning the decision was made on.
  Result<std::optional<Content>> replace_target(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                                ns::Delta* d, Content* next = nullptr,
                                                std::vector<ns::Delta>* also = nullptr,
                                                Versioning* state = nullptr) const;
  // ---- versions.cc
  Result<Versioning> versioning_of(NsRef ns) const;
  // DELETE without a version id in a versioned namespace: the object (if any)
  // becomes a version and a delete marker is made.
  Result<DeletedObject> delete_versioned(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                                         Versioning v, const DeleteConditions& cond, const Caller& who = {});
  // The key of `name` in directory `dir` (file operations name objects by
  // their directory); nullopt where it cannot be told (a directory made before
  // directories kept their names, and not found in its parent) or is no key.
  Result<std::optional<std::string>> file_key(NsRef ns, InodeId dir, std::string_view name) const;
  // For a file write in a versioned namespace: the versions directory's entry
  // that keeps the content as it is now ("" when the write keeps none: a burst
  // within kVersionBurstNs, or a null version while suspended), after giving
  // `c` the new content's version id.
  Result<std::string> version_before_write(NsRef ns, const ns::Inode& i, Content* c) const;
  // For a rename over `victim` (entry `name` of `dir`) in a versioned
  // namespace: d keeps it as a version of its key. False if it is not kept.
  Result<bool> keep_rename_target(NsRef ns, InodeId dir, std::string_view name, const ns::Inode& victim,
                                  ns::Delta* d) const;
  // The entries of `key` in the versions directory, newest first.
  struct VersionEntry {
    std::string name;  // key · NUL · suffix
    std::string id;    // as S3 names it ("null" for the null version)
    ns::Inode inode;
  };
  Result<std::vector<VersionEntry>> key_versions(NsRef ns, std::string_view key) const;
  // Version `version_id` of `key` (the current object or a kept version),
  // opened (a delete marker's content is empty); kNotFound if there is none.
  Status find_version(NsRef ns, std::string_view key, std::string_view version_id, const crypto::SecretKey& kek,
                      ns::Inode* i, Content* c) const;
  // Versions of a key sort newest first whatever the clocks of the nodes that
  // made them: a new one's time is after the newest there (kept or current).
  struct VersionTimes {
    int64_t kept = INT64_MIN;     // the newest kept version's
    int64_t current = INT64_MIN;  // the current object's (a null one's: its mtime, after `kept`)
    int64_t next(int64_t now) const { return std::max({now, kept + 1, current + 1}); }
  };
  Result<VersionTimes> version_times(NsRef ns, std::string_view key, const ns::Inode* cur, const Content* c) const;
  // How the current object `cur` (content `c`) of `key` becomes a version:
  // d's kKeepVersion and entry name (a null one's at `null_ns`).
  void keep_current(std::string_view key, const Content& c, int64_t null_ns, ns::Delta* d) const;
  // Deltas that drop the key's kept null version, if it has one (a key has one
  // null version at most: a null version written or kept replaces it).
  Status drop_kept_null(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                        std::vector<ns::Delta>* record) const;
  // Deltas that drop a version (its references too).
  Result<ns::Delta> drop_version(NsRef ns, const crypto::SecretKey& kek, const VersionEntry& v) const;
  // Deltas that make the newest of `rest` current again when it is an object
  // (`cur`: the current object it replaces, if any, and its content).
  Status restore_newest(NsRef ns, std::string_view key, const crypto::SecretKey& kek,
                        const std::vector<VersionEntry>& rest, const ns::Inode* cur, const Content* cur_content,
                        std::vector<ns::Delta>* out) const;
  std::mutex& inode_lock(NsRef ns, InodeId ino) const;
  int64_t now() const { return opts_.env->clock().now_ns(); }

  GatewayOptions opts_;
  std::unique_ptr<crypto::FileKeyManager> keys_;
  std::unique_ptr<meta::Store> meta_;
  std::unique_ptr<chunk::SegmentStore> segments_;
  // The segments a metadata flush syncs first (StoreOptions::before_flush);
  // null once they are gone.
  struct FlushSegments {
    std::mutex mu;
    chunk::SegmentStore* segments = nullptr;
  };
  std::shared_ptr<FlushSegments> flush_segments_ = std::make_shared<FlushSegments>();
  std::unique_ptr<chunk::ChunkStore> chunks_;
  std::unique_ptr<chunk::ChunkCache> cache_;  // opened chunks for reads
  mutable ObjectCache opened_;                 // opened objects by key, for reads
  mutable DirCache listings_;                  // directory listings with attributes
  // Inodes by store key, for load_inode: 16 384 at most, those whose sealed
  // layout is small (a file of a few chunks, every directory).
  static constexpr size_t kMaxCachedContent = 1024;
  mutable GenerationCache<ns::Inode> inodes_{"inode_cache", "Inode reads", 1024};
  std::unique_ptr<chunk::Chunker> chunker_;
  ns::StateMachine sm_;
  // The other metadata shards of a cluster (ADR 0009): data_[k - 1] is shard
  // k, with a store (DATA/meta-shard-K) and a log of its own. meta_, sm_ and
  // log_ are the root shard's.
  struct DataShard {
    std::unique_ptr<meta::Store> store;
    std::unique_ptr<ns::StateMachine> sm;
    std::unique_ptr<log::Log> log;
  };
  std::vector<DataShard> data_;
  uint32_t shard_count() const { return static_cast<uint32_t>(data_.size() + 1); }
  // The store and log of shard k, and of the shard that holds namespace `ns`.
  meta::Store& store_of_shard(uint32_t k) const { return k == 0 ? *meta_ : *data_[k - 1].store; }
  log::Log& log_of_shard(uint32_t k) const { return k == 0 ? *log_ : *data_[k - 1].log; }
  meta::Store& store_of(NamespaceId ns) const { return store_of_shard(ns::shard_of(ns, shard_count())); }
  log::Log& log_of(NamespaceId ns) const { return log_of_shard(ns::shard_of(ns, shard_count())); }
  // A key of the root shard's store; if absent, read again after a read
  // barrier (made on another node a moment ago).
  Status root_get(meta::Cf c, std::string_view key, std::string* value) const;
  // Every shard's store, the root's first.
  std::vector<meta::Store*> stores() const;
  // Request ids for mutations that come without one: this process's random
  // client id and a sequence.
  uint64_t client_id_ = 0;
  std::atomic<uint64_t> next_seq_{1};
  std::unique_ptr<log::Log> log_;  // the delta log, or the root shard's Raft log in a cluster
  // Striped per-inode locks serialise read-modify-write of one file's layout.
  mutable std::array<std::mutex, 256> inode_locks_;
  // Unstable writes acknowledged, and how many of them fsync has made durable.
  std::atomic<uint64_t> unstable_writes_{0}, unstable_synced_{0};
  // Under `sync`: how far the segments must be durable before the next WAL
  // sync, for the chunks of non-durable records (durable ones sync their own).
  void note_unstable(const chunk::AppendMark& m);
  chunk::AppendMark unstable_mark() const;
  mutable std::mutex mark_mu_;  // guards unstable_mark_
  chunk::AppendMark unstable_mark_;
  // Every S3 request authenticates and names a bucket: both answers are cached.
  // Entries go when a key or namespace is deleted and when a tenant is shredded.
  mutable std::mutex cache_mu_;  // guards the caches below
  mutable std::unordered_map<std::string, AccessKey> key_cache_;
  mutable std::map<std::pair<TenantId, std::string>, NamespaceInfo, std::less<>> ns_cache_;
  mutable std::map<NamespaceId, Redundancy> ns_redundancy_;  // guarded by cache_mu_ (set once, never changes)
  // Configuration items as last read (nullopt: the namespace has none);
  // dropped when a record changing the namespace's items is applied here.
  // Looked up by (tenant, namespace, item name as a string_view): no allocation per request.
  struct ConfigKeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::make_tuple(std::get<0>(a), std::get<1>(a), std::string_view(std::get<2>(a))) <
             std::make_tuple(std::get<0>(b), std::get<1>(b), std::string_view(std::get<2>(b)));
    }
  };
  mutable std::map<std::tuple<TenantId, NamespaceId, std::string>, std::optional<std::string>, ConfigKeyLess>
      ns_config_cache_;
  mutable uint64_t ns_config_gen_ = 0;  // counts the drops (a read that saw one keeps nothing)
  void drop_config_cache(NamespaceId ns) const;  // 0: every namespace's
  static constexpr size_t kMaxConfigBytes = 64 << 10;
  // How a cluster keeps the chunks of a namespace (its record's policy).
  Redundancy redundancy_of(NamespaceId ns) const;
  // The domain keys of tenants, as derived from their root keys.
  mutable std::unordered_map<TenantId, crypto::DomainKeys> domain_cache_;
  void forget_tenant(TenantId t);
  void forget_user_keys(TenantId t, std::string_view user);

  // Shredded tenants: their namespaces answer nothing (load_inode) from the
  // moment of the shred, before the purge has removed them.
  mutable std::mutex shredded_mu_;
  std::set<TenantId> shredded_;
  std::atomic<bool> any_shredded_{false};
  // The background purge (purge_loop); purge_run_mu_ lets one pass run at a time.
  std::mutex purge_run_mu_;
  std::mutex purge_mu_;  // guards the two flags below
  std::condition_variable purge_cv_;
  bool purge_wanted_ = false, purge_stop_ = false;
  bool collect_wanted_ = false;  // a garbage collection pass (after a snapshot install)
  bool compact_wanted_ = false;  // space is low and deletes may have freed some (want_compaction)
  std::vector<TenantId> remote_shreds_;  // shreds applied here from other nodes' records
  std::thread purger_;
};

FileAttr to_attr(const ns::Inode& i);
// The extents of a multipart part record (none for an upload record's key).
Status multipart_part_extents(const crypto::SecretKey& kek, NamespaceId ns, std::string_view key,
                              std::string_view value, std::vector<Extent>* extents);

}  // namespace kiseki::gateway
