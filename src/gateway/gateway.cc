// Gateway set-up, tenants, namespaces, access keys and maintenance.
#include "gateway/local_gateway.h"

#include <sys/statvfs.h>

#include "common/file_util.h"
#include "common/logging.h"
#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"
#include "common/kill_point.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Op;

ByteSource source_from(ByteSpan data) {
  auto pos = std::make_shared<size_t>(0);
  return [data, pos](MutableByteSpan buf) -> Result<size_t> {
    size_t n = std::min(buf.size(), data.size() - *pos);
    std::memcpy(buf.data(), data.data() + *pos, n);
    *pos += n;
    return n;
  };
}

FileAttr to_attr(const ns::Inode& i) {
  FileAttr a;
  a.ino = i.ino;
  a.type = i.type;
  a.mode = i.attr.mode;
  a.uid = i.attr.uid;
  a.gid = i.attr.gid;
  a.nlink = i.nlink;
  a.size = i.is_dir() ? 0 : i.size;  // a directory's object (ADR 0013) is not its size
  a.generation = i.generation;
  a.parent = i.is_dir() ? (i.parent == kInvalidInode ? i.ino : i.parent) : kInvalidInode;
  a.atime_ns = i.attr.atime_ns;
  a.mtime_ns = i.attr.mtime_ns;
  a.ctime_ns = i.attr.ctime_ns;
  a.btime_ns = i.btime_ns;
  return a;
}

Result<std::unique_ptr<Gateway>> Gateway::open(const GatewayOptions& opts) {
  KISEKI_ASSIGN_OR_RETURN(auto g, LocalGateway::open(opts));
  return std::unique_ptr<Gateway>(std::move(g));
}

Result<std::unique_ptr<LocalGateway>> LocalGateway::open(const GatewayOptions& opts) {
  KISEKI_TRY(opts.object_chunking.validate());
  if (opts.file_chunk_bytes < 4096 || opts.file_chunk_bytes > (4u << 20))
    return invalid_argument("file_chunk_bytes must lie within 4 KiB .. 4 MiB");
  std::unique_ptr<LocalGateway> g(new LocalGateway(opts));
  KISEKI_TRY(g->init());
  return g;
}

Status LocalGateway::init() {
  KISEKI_TRY(make_dirs(opts_.data_dir));
  std::string seed = opts_.replication ? opts_.replication->master_seed() : std::string();
  KISEKI_ASSIGN_OR_RETURN(keys_, crypto::FileKeyManager::open(opts_.data_dir + "/keys", *opts_.env, seed));
  meta::StoreOptions mo;
  mo.env = opts_.env;
  mo.before_flush = [f = flush_segments_] {
    std::lock_guard lock(f->mu);
    if (f->segments) (void)f->segments->sync_all(/*force=*/true);  // a failure is fail-stop there
  };
  KISEKI_ASSIGN_OR_RETURN(meta_, meta::Store::open(opts_.data_dir + "/meta", mo));
  chunk::SegmentStoreOptions so;
  so.durability = opts_.durability;
  so.segment_bytes = opts_.segment_bytes;
  so.env = opts_.env;
  so.reserve_bytes = opts_.reserve_bytes;
  KISEKI_ASSIGN_OR_RETURN(segments_, chunk::SegmentStore::open(opts_.data_dir + "/chunks", so));
  {
    std::lock_guard lock(flush_segments_->mu);
    flush_segments_->segments = segments_.get();
  }
  // The other metadata shards of a cluster (ADR 0009), each a store of its own.
  const uint32_t shards = opts_.replication ? std::max(1u, opts_.replication->shards()) : 1;
  sm_ = ns::StateMachine(0, shards);
  std::vector<const meta::Store*> more_refs;
  for (uint32_t k = 1; k < shards; ++k) {
    DataShard d;
    KISEKI_ASSIGN_OR_RETURN(d.store, meta::Store::open(opts_.data_dir + "/meta-shard-" + std::to_string(k), mo));
    d.sm = std::make_unique<ns::StateMachine>(k, shards);
    more_refs.push_back(d.store.get());
    data_.push_back(std::move(d));
  }
  KISEKI_ASSIGN_OR_RETURN(chunks_,
                          chunk::ChunkStore::open(meta_.get(), segments_.get(), keys_.get(), std::move(more_refs)));
  cache_ = std::make_unique<chunk::ChunkCache>(opts_.chunk_cache_bytes);
  uint8_t id[8];
  crypto::random_bytes(id);
  client_id_ = get_be64(id) | 1;  // never 0: 0 · 0 is "no request id"
  chunker_ = chunk::make_chunker(opts_.object_chunking);
  log::LogOptions lo;
  lo.durability = opts_.durability;
  lo.group_commit_ms = opts_.group_commit_ms;
  // Write order: the chunk records a record references are durable before the
  // WAL sync that makes the record durable. Under `sync` a durable record with
  // fresh chunks is written only after a segment sync begun after it was
  // queued (before_write), so before a WAL sync only what non-durable records
  // stored is left; the other modes sync everything. Rolled segments were
  // synced when they rolled.
  if (opts_.durability == Durability::kSync) {
    lo.before_commit = [this] { return segments_->sync_to(unstable_mark()); };
    lo.before_write = [s = segments_.get()] { return s->sync_to(s->mark()); };
  } else {
    // Under kNone only barriers (fsync, COMMIT) sync the WAL: forced here.
    lo.before_commit = [s = segments_.get()] { return s->sync_all(/*force=*/true); };
  }
  lo.on_apply = opts_.on_apply;
  lo.add_local = [c = chunks_.get()](rocksdb::WriteBatch* b, uint64_t g) { c->add_local_writes(b, g); };
  lo.local_done = [c = chunks_.get()](uint64_t g, bool written) { c->commit_local_writes(g, written); };
  if (opts_.replication) {
    // Records submitted on other nodes apply here too: what they change
    // outside the store follows (note_applied).
    lo.on_apply = [this, tap = opts_.on_apply](std::string_view record) {
      if (tap) tap(record);
      note_applied(record);
    };
    lo.on_reset = [this] { note_reset(); };
    opts_.replication->serve_chunks(chunks_.get(), meta_.get());
    KISEKI_ASSIGN_OR_RETURN(log_, opts_.replication->open_log(0, meta_.get(), &sm_, lo));
    // A data shard's records carry no chunk locations: a writer makes its
    // chunks and their locations durable before it submits (replicate).
    log::LogOptions data_lo = lo;
    data_lo.add_local = nullptr;
    data_lo.local_done = nullptr;
    for (uint32_t k = 1; k < shards; ++k) {
      DataShard& d = data_[k - 1];
      KISEKI_ASSIGN_OR_RETURN(d.log, opts_.replication->open_log(k, d.store.get(), d.sm.get(), data_lo));
    }
  } else {
    log_ = std::make_unique<log::DeltaLog>(meta_.get(), &sm_, lo);
  }
  KISEKI_TRY(ensure_shared_domain());
  // Namespace names are global (like bucket names); a directory made before
  // they were has its names indexed once, through the log.
  if (std::string v; meta_->get(Cf::kSystem, ns::kBucketIndexDone, &v).code() == ErrorCode::kNotFound) {
    Delta d;
    d.op = Op::kIndexBuckets;
    KISEKI_TRY(submit({d}).status());
  }
  for (const auto& t : list_tenants()) {
    if (t.shredded) {
      shredded_.insert(t.id);
      continue;
    }
    // Every live tenant's keys open now (wrapped keys carry an AEAD tag): a
    // damaged key file is found at start, not as an error on every request.
    if (auto k = domain_keys(t.id); !k)
      return corruption("the key of tenant '" + t.name + "' does not open (" + k.status().message() + "): keys/tenant-" +
                        std::to_string(t.id) + " or keys/master is damaged; Kiseki does not start on a damaged key "
                        "(docs/operations.md#damage)");
  }
  any_shredded_.store(!shredded_.empty());
  purger_ = std::thread([this] { purge_loop(); });
  if (!shredded_.empty()) wake_purge();
  return Status::ok();
}

LocalGateway::~LocalGateway() {
  {
    std::lock_guard lock(flush_segments_->mu);
    flush_segments_->segments = nullptr;
  }
  if (!purger_.joinable()) return;
  {
    std::lock_guard lock(purge_mu_);
    purge_stop_ = true;
    purge_cv_.notify_all();
  }
  purger_.join();
}

namespace {
// The shard a record goes to: the root for what is cluster-wide, else the
// shard of the namespace its deltas touch (one per record).
uint32_t shard_of_record(const std::vector<Delta>& deltas, uint32_t shards) {
  switch (deltas.front().op) {
    case Op::kCreateTenant: case Op::kSetTenant: case Op::kCreateNamespace: case Op::kDeleteNamespace:
    case Op::kPutAccessKey: case Op::kDeleteAccessKey: case Op::kInitSecret: case Op::kPutExport:
    case Op::kDeleteExport: case Op::kPurgeTenant: case Op::kIndexBuckets: case Op::kSetNode:
    case Op::kSetNamespaceConfig: case Op::kPutUser: case Op::kDeleteUser:
      return 0;
    default:
      return ns::shard_of(deltas.front().ns, shards);
  }
}
}  // namespace

Result<std::string> LocalGateway::submit(std::vector<Delta> deltas, bool durable, const Caller& who,
                                         std::optional<uint32_t> shard, const DeltaFinisher& finish) {
  RequestId req = who.req;
  // A Raft log may propose a record twice (a leader change, a timeout): the id
  // makes the second apply answer the first result. The local delta log
  // applies each submit once, so a caller without an id of its own (S3, the
  // admin API) costs the request table nothing there.
  if (req.empty() && opts_.replication) req = {client_id_, next_seq_.fetch_add(1)};
  std::vector<ChunkId> fresh_ids, kept;  // the chunks this record brings; all it references
  for (auto& d : deltas)
    for (auto& r : d.refs) {
      if (r.fresh) fresh_ids.push_back(r.id);
      kept.push_back(r.id);
    }
  if (opts_.replication) {
    // Write order across nodes: a write quorum holds every chunk this record
    // brings durably (this node's pieces among them once synced here, in one
    // round with the others' travel) before the record commits anywhere. The
    // references say how each chunk is kept: their namespace's policy.
    std::map<Redundancy, std::vector<ChunkId>> by_form;
    for (auto& d : deltas) {
      if (d.refs.empty()) continue;
      Redundancy form = redundancy_of(d.ns);
      for (auto& r : d.refs)
        if (r.fresh) {
          r.form = form;
          by_form[form].push_back(r.id);
        }
    }
    for (const auto& [form, ids] : by_form) KISEKI_TRY(opts_.replication->replicate(ids, form));
  } else if (opts_.durability == Durability::kSync && !durable) {
    note_unstable(segments_->mark());  // the next WAL sync round syncs up to here first
  }
  KISEKI_KILL_POINT("write.before_commit");
  uint32_t k = shard ? *shard : shard_of_record(deltas, shard_count());
  // The chunks this caller stored (appended before now) are synced from the
  // log's queue under `sync` on one node: one fdatasync for every record
  // waiting, run outside the leader's turn (before_write, ADR 0008). The other
  // modes' records rely on the WAL sync round's segment sync instead.
  bool refs_synced = opts_.replication || fresh_ids.empty();
  log::Log& log = log_of_shard(k);
  auto out = finish ? log.submit_finished(
                          [&](std::string* record) {
                            KISEKI_TRY(finish(&deltas));
                            *record = ns::encode_record(deltas, req);
                            return Status::ok();
                          },
                          durable, refs_synced)
                    : log.submit(ns::encode_record(deltas, req), durable, refs_synced);
  if (out) {
    KISEKI_KILL_POINT("write.after_commit");
    if (!kept.empty()) chunks_->referenced(kept);
    std::vector<ChunkId> dropped;
    for (const auto& d : deltas) dropped.insert(dropped.end(), d.unrefs.begin(), d.unrefs.end());
    if (!dropped.empty()) {
      chunks_->release(dropped);
      // On a full disk, what a delete or overwrite freed comes back now.
      if (segments_->space_low()) want_compaction();
    }
  }
  return out;
}

Status LocalGateway::read_chunk(const crypto::DomainKeys& domain, const ChunkId& id, Bytes* out, bool keep) const {
  Status st = chunks_->read(domain, id, out);
  if (st.is_ok() || !opts_.replication || st.code() != ErrorCode::kCorruption) return st;
  // This node lacks the chunk or its copy failed its check: another node's
  // copy, checked the same way. A missing copy is taken in (a repair).
  bool missing = chunks_->locate(id).code() == ErrorCode::kNotFound;
  if (!missing) KLOG_WARN("chunk {}: this node's copy failed its check ({}); reading another node's", id.hex(), st.message());
  Bytes sealed;
  if (Status f = opts_.replication->fetch(id, &sealed); !f) return st;
  KISEKI_TRY(chunks_->open_sealed(domain, id, sealed, out));
  // The damaged copy goes; a home of the chunk keeps the good one fetched (a
  // repair in passing), and so does a caller that must hold it (`keep`).
  if (!missing) (void)chunks_->evict(id);
  if (keep || opts_.replication->keeps(id)) (void)chunks_->adopt(id, sealed);
  return Status::ok();
}

void LocalGateway::note_applied(std::string_view record) {
  std::vector<Delta> deltas;
  RequestId req;
  if (!ns::decode_record(record, &deltas, &req).is_ok()) return;  // apply reports it
  for (const auto& d : deltas) {
    switch (d.op) {
      case Op::kSetTenant:
        if (d.flags & ns::kShred) {
          // The tenant's key goes on every node, not only on the one that
          // took the shred: from now on nothing here answers for it, and the
          // purge thread takes the rest of this node's steps.
          {
            std::lock_guard lock(shredded_mu_);
            shredded_.insert(d.a);
          }
          any_shredded_.store(true);
          forget_tenant(d.a);
          if (Status st = keys_->shred_tenant_key(d.a); !st && st.code() != ErrorCode::kNotFound)
            KLOG_ERROR("tenant {}: the key on this node was not destroyed: {}", d.a, st.to_string());
          {
            std::lock_guard lock(purge_mu_);
            remote_shreds_.push_back(d.a);
          }
          wake_purge();
        }
        break;
      case Op::kDeleteAccessKey:
      case Op::kPutAccessKey: {
        std::lock_guard lock(cache_mu_);
        key_cache_.erase(d.name);
        break;
      }
      case Op::kDeleteNamespace: {
        {
          std::lock_guard lock(cache_mu_);
          ns_cache_.erase({d.a, d.name});
        }
        drop_config_cache(0);  // named, not numbered, here
        break;
      }
      case Op::kSetNamespaceConfig:
        drop_config_cache(d.ns);
        break;
      case Op::kDeleteUser:  // its keys went with it
        forget_user_keys(d.a, d.name);
        break;
      default:
        break;
    }
  }
}

void LocalGateway::note_reset() {
  {
    std::lock_guard lock(cache_mu_);
    key_cache_.clear();
    ns_cache_.clear();
    domain_cache_.clear();
  }
  drop_config_cache(0);
  // Tenants shredded in the state just installed: this node's keys of them go
  // as if it had applied the shred records themselves.
  std::vector<TenantId> shredded;
  for (const auto& t : list_tenants()) {
    if (!t.shredded || is_shredded(t.id)) continue;
    shredded.push_back(t.id);
    {
      std::lock_guard lock(shredded_mu_);
      shredded_.insert(t.id);
    }
    any_shredded_.store(true);
    if (Status st = keys_->shred_tenant_key(t.id); !st && st.code() != ErrorCode::kNotFound)
      KLOG_ERROR("tenant {}: the key on this node was not destroyed: {}", t.id, st.to_string());
  }
  {
    std::lock_guard lock(purge_mu_);
    remote_shreds_.insert(remote_shreds_.end(), shredded.begin(), shredded.end());
    collect_wanted_ = true;  // the chunks the new state no longer references
  }
  wake_purge();
}

Status LocalGateway::root_get(Cf c, std::string_view key, std::string* value) const {
  Status st = meta_->get(c, key, value);
  if (st.code() != ErrorCode::kNotFound) return st;
  // Made on another node a moment ago? Not found only once this node has
  // applied what the cluster committed before this call.
  KISEKI_TRY(log_->read_barrier());
  return meta_->get(c, key, value);
}

std::vector<meta::Store*> LocalGateway::stores() const {
  std::vector<meta::Store*> out{meta_.get()};
  for (const auto& d : data_) out.push_back(d.store.get());
  return out;
}

std::string LocalGateway::write_fault() const {
  Status st = segments_->fault();
  for (uint32_t k = 0; k < shard_count() && st.is_ok(); ++k) st = log_of_shard(k).fault();
  return st.is_ok() ? std::string() : "writes refused since a sync failed (" + st.to_string() + "); restart the server";
}

void LocalGateway::note_unstable(const chunk::AppendMark& m) {
  std::lock_guard lock(mark_mu_);
  if (m.segment > unstable_mark_.segment || (m.segment == unstable_mark_.segment && m.end > unstable_mark_.end))
    unstable_mark_ = m;
}

chunk::AppendMark LocalGateway::unstable_mark() const {
  std::lock_guard lock(mark_mu_);
  return unstable_mark_;
}

std::mutex& LocalGateway::inode_lock(NsRef ns, InodeId ino) const {
  return inode_locks_[(ns.ns * 0x9e3779b97f4a7c15ull ^ ino) % inode_locks_.size()];
}

// The file that shows a directory's object to the file API (ADR 0013): the
// directory's content, owner and times, under the synthetic number. Its key is
// the directory's (parent and name), so a write of it keeps versions as a
// file's does.
static ns::Inode object_entry_of(const ns::Inode& dir) {
  ns::Inode f = dir;
  f.ino = ns::object_of(dir.ino);
  f.type = FileType::kFile;
  f.flags = 0;
  f.attr.mode = dir.attr.mode & 0666;
  f.attr.mtime_ns = dir.object_mtime_ns;
  f.nlink = 1;
  f.next_cookie = 0;
  return f;
}

Status LocalGateway::load_inode(NsRef ns, InodeId ino, ns::Inode* out) const {
  if (ino == kInvalidInode) return invalid_argument("inode 0 does not exist");
  if (ns::is_object_of(ino)) {
    ns::Inode dir;
    KISEKI_TRY(load_inode(ns, ns::dir_of_object(ino), &dir));
    if (!dir.carries_object()) return make_error(ErrorCode::kStale, "the directory carries no object now");
    *out = object_entry_of(dir);
    return Status::ok();
  }
  if (is_shredded(ns.tenant)) return make_error(ErrorCode::kCryptoShredded, "the namespace's tenant was crypto-shredded");
  uint64_t gen = meta::Store::generation();  // before the read
  std::string key = meta::inode_key(ns.ns, ino);
  if (auto hot = inodes_.get(key)) {
    *out = std::move(*hot);
    return Status::ok();
  }
  std::string v;
  Status st = store_of(ns.ns).get(Cf::kInodes, key, &v);
  if (st.code() == ErrorCode::kNotFound && ino == ns::kRootInode && ns::shard_of(ns.ns, shard_count()) != 0 &&
      log_->read_barrier().is_ok() && get_namespace(ns.ns).is_ok()) {
    // A namespace whose making stopped between its two shards (ADR 0009),
    // still in the catalog as the cluster has it now: its root directory is
    // made now. (One being deleted lost its root first, then its entry.)
    KISEKI_TRY(make_root(ns.ns));
    st = store_of(ns.ns).get(Cf::kInodes, meta::inode_key(ns.ns, ino), &v);
  }
  if (st.code() == ErrorCode::kNotFound) return make_error(ErrorCode::kStale, "no inode " + std::to_string(ino));
  KISEKI_TRY(st);
  KISEKI_TRY(ns::decode_inode(v, out));
  if (out->content.size() <= kMaxCachedContent) inodes_.put(std::move(key), gen, *out);
  return Status::ok();
}

Status LocalGateway::make_root(NamespaceId id) const {
  Delta d;
  d.op = Op::kCreateRoot;
  d.ns = id;
  int64_t t = now();
  d.inode.attr = {0755, 0, 0, t, t, t};
  d.inode.btime_ns = t;
  // Const callers (a read that finds the root missing) may repair it: the
  // record is idempotent and changes nothing they have read.
  return const_cast<LocalGateway*>(this)->submit({d}).status();
}

// ---- namespaces

Result<NsRef> LocalGateway::create_namespace(TenantId tenant, std::string_view name, bool public_read,
                                             std::optional<Redundancy> durability) {
  KISEKI_TRY(ns::validate_name(name));
  if (!opts_.replication && durability)
    return make_error(ErrorCode::kNotPermitted, "durability " + durability->name() +
                                                    " needs a cluster: a single node keeps every chunk with its local "
                                                    "durability (docs/cluster.md#durability-policies)");
  if (opts_.replication) {
    if (!durability) durability = opts_.replication->default_redundancy();
    KISEKI_TRY(opts_.replication->can_place(*durability));
  }
  KISEKI_ASSIGN_OR_RETURN(TenantInfo t, get_tenant(tenant));
  if (t.shredded) return make_error(ErrorCode::kCryptoShredded, "tenant was crypto-shredded");
  Delta d;
  d.op = Op::kCreateNamespace;
  d.a = tenant;
  d.name = std::string(name);
  Encoder(&d.blob).u8(public_read ? 1 : 0).i64(now());
  if (durability) d.blob.append(durability->encode());
  d.inode.attr = {0755, 0, 0, now(), now(), now()};
  d.inode.btime_ns = now();
  KISEKI_ASSIGN_OR_RETURN(std::string out, submit({d}));
  NamespaceId id = get_be64(reinterpret_cast<const uint8_t*>(out.data()));
  // Its root directory, where its files will be: another shard's (ADR 0009).
  if (ns::shard_of(id, shard_count()) != 0) KISEKI_TRY(make_root(id));
  return NsRef{tenant, id};
}

static NamespaceInfo to_ns_info(const ns::NamespaceRecord& r) {
  NamespaceInfo i;
  i.ref = {r.tenant, r.id};
  i.name = r.name;
  Decoder d(r.blob);
  i.public_read = d.u8() != 0;
  i.created_ns = d.i64();
  if (d.remaining() == 3)
    if (auto r = Redundancy::decode(d.raw(3))) i.durability = *r;
  return i;
}

Redundancy LocalGateway::redundancy_of(NamespaceId ns) const {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = ns_redundancy_.find(ns); it != ns_redundancy_.end()) return it->second;
  }
  std::string v;
  ns::NamespaceRecord r;
  // A namespace written to here is known here; if not yet, after a read barrier.
  if (!root_get(Cf::kNamespaces, ns::ns_id_key(ns), &v).is_ok() || !ns::decode_ns_record(v, &r).is_ok())
    return kLegacyRedundancy;  // for a write that then fails anyway
  Redundancy out = to_ns_info(r).durability.value_or(kLegacyRedundancy);
  std::lock_guard lock(cache_mu_);
  ns_redundancy_[ns] = out;
  return out;
}

Result<NamespaceInfo> LocalGateway::get_namespace(NamespaceId id) const {
  std::string v;
  Status st = meta_->get(Cf::kNamespaces, ns::ns_id_key(id), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no namespace " + std::to_string(id));
  KISEKI_TRY(st);
  ns::NamespaceRecord r;
  KISEKI_TRY(ns::decode_ns_record(v, &r));
  return to_ns_info(r);
}

Result<NamespaceInfo> LocalGateway::find_namespace(TenantId tenant, std::string_view name) const {
  {
    std::lock_guard lock(cache_mu_);
    auto it = ns_cache_.find(std::make_pair(tenant, std::string(name)));
    if (it != ns_cache_.end()) return it->second;
  }
  std::string v;
  Status st = root_get(Cf::kNamespaces, ns::ns_name_key(tenant, name), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no namespace " + std::string(name));
  KISEKI_TRY(st);
  auto info = get_namespace(get_be64(reinterpret_cast<const uint8_t*>(v.data())));
  if (info) {
    std::lock_guard lock(cache_mu_);
    ns_cache_[{tenant, std::string(name)}] = *info;
  }
  return info;
}

Result<NamespaceInfo> LocalGateway::find_bucket(std::string_view name) const {
  std::string v;
  Status st = root_get(Cf::kNamespaces, ns::bucket_name_key(name), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no namespace " + std::string(name));
  KISEKI_TRY(st);
  if (v.size() != 16) return corruption("bucket name entry");
  return find_namespace(get_be64(reinterpret_cast<const uint8_t*>(v.data())), name);
}

void LocalGateway::forget_user_keys(TenantId t, std::string_view user) {
  std::lock_guard lock(cache_mu_);
  for (auto it = key_cache_.begin(); it != key_cache_.end();)
    it = it->second.tenant == t && it->second.user == user ? key_cache_.erase(it) : std::next(it);
}

void LocalGateway::forget_tenant(TenantId t) {
  std::lock_guard lock(cache_mu_);
  for (auto it = key_cache_.begin(); it != key_cache_.end();)
    it = it->second.tenant == t ? key_cache_.erase(it) : std::next(it);
  domain_cache_.erase(t);
  for (auto it = ns_cache_.begin(); it != ns_cache_.end();) it = it->first.first == t ? ns_cache_.erase(it) : std::next(it);
  std::erase_if(ns_config_cache_, [&](const auto& e) { return std::get<0>(e.first) == t; });
  ++ns_config_gen_;
}

std::vector<NamespaceInfo> LocalGateway::list_namespaces(TenantId tenant) const {
  std::vector<NamespaceInfo> out;
  // The catalog as the cluster has it now (a bucket made on another node is
  // listed); a node that cannot reach the leader lists what it has applied.
  (void)log_->read_barrier();
  std::string prefix = "N" + meta::key_u64(tenant);
  auto it = meta_->iterator(Cf::kNamespaces);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto n = get_namespace(get_be64(reinterpret_cast<const uint8_t*>(it->value().data())));
    if (n) out.push_back(*n);
  }
  return out;
}

Status LocalGateway::delete_namespace(TenantId tenant, std::string_view name) {
  KISEKI_TRY(log_->read_barrier());
  // A namespace of a data shard: its (empty) root goes there first; the
  // catalog entry after it (a crash between leaves an empty namespace that a
  // second delete removes).
  if (auto info = find_namespace(tenant, name); info && ns::shard_of(info->ref.ns, shard_count()) != 0) {
    KISEKI_TRY(log_of(info->ref.ns).read_barrier());
    Delta r;
    r.op = Op::kDropRoot;
    r.ns = info->ref.ns;
    KISEKI_TRY(submit({r}).status());
  }
  {
    std::lock_guard lock(cache_mu_);
    ns_cache_.erase(std::make_pair(tenant, std::string(name)));
  }
  Delta d;
  d.op = Op::kDeleteNamespace;
  d.a = tenant;
  d.name = std::string(name);
  Status st = submit({d}).status();
  drop_config_cache(0);
  if (st.code() == ErrorCode::kNotFound) return not_found("no namespace " + std::string(name));
  return st;
}

// ---- namespace configuration items (ADR 0011)

Status LocalGateway::put_namespace_config(NsRef ns, std::string_view item, std::string_view doc) {
  if (item.empty() || item.size() > 64) return invalid_argument("a configuration item's name is 1..64 bytes");
  if (doc.size() > kMaxConfigBytes) return invalid_argument("a configuration document is at most 64 KiB");
  if (is_shredded(ns.tenant)) return make_error(ErrorCode::kCryptoShredded, "tenant was crypto-shredded");
  Delta d;
  d.op = Op::kSetNamespaceConfig;
  d.a = ns.tenant;
  d.ns = ns.ns;
  d.name = std::string(item);
  d.blob = std::string(doc);
  Status st = submit({d}).status();
  drop_config_cache(ns.ns);  // here; another node drops it as it applies the record
  return st;
}

void LocalGateway::drop_config_cache(NamespaceId ns) const {
  std::lock_guard lock(cache_mu_);
  std::erase_if(ns_config_cache_, [&](const auto& e) { return ns == 0 || std::get<1>(e.first) == ns; });
  ++ns_config_gen_;
}

Result<std::string> LocalGateway::get_namespace_config(NsRef ns, std::string_view item) const {
  uint64_t gen;
  {
    std::lock_guard lock(cache_mu_);
    auto it = ns_config_cache_.find(std::make_tuple(ns.tenant, ns.ns, item));
    if (it != ns_config_cache_.end()) {
      if (!it->second) return not_found("no such item");
      return *it->second;
    }
    gen = ns_config_gen_;
  }
  // The namespace must be the caller's (a namespace id names one tenant's).
  KISEKI_ASSIGN_OR_RETURN(NamespaceInfo info, get_namespace(ns.ns));
  if (info.ref.tenant != ns.tenant) return not_found("no namespace " + std::to_string(ns.ns));
  std::string v;
  Status st = root_get(Cf::kNamespaces, ns::ns_config_key(ns.ns, item), &v);
  if (!st && st.code() != ErrorCode::kNotFound) return st;
  std::optional<std::string> found;
  if (st) found = v;
  {
    // Kept unless a change was applied while this was read (it may be older).
    std::lock_guard lock(cache_mu_);
    if (gen == ns_config_gen_) ns_config_cache_[{ns.tenant, ns.ns, std::string(item)}] = found;
  }
  if (!found) return not_found("no such item");
  return std::move(*found);
}

// ---- access keys: record = tenant [· user] · tenant_seal(KEK, secret) (ns::encode_key_record)

Status LocalGateway::put_access_key(const AccessKey& key) {
  if (key.access_key_id.size() < 3 || key.access_key_id.size() > 128 || key.secret_key.size() < 8)
    return invalid_argument("access key id must be 3..128 bytes and the secret at least 8");
  if (!key.user.empty()) KISEKI_TRY(validate_user_name(key.user));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(key.tenant));
  Delta d;
  d.op = Op::kPutAccessKey;
  d.name = key.access_key_id;
  std::string sealed;
  KISEKI_TRY(crypto::tenant_seal(kek, as_bytes(key.access_key_id), as_bytes(key.secret_key), &sealed));
  d.blob = ns::encode_key_record(key.tenant, key.user, sealed);
  {
    std::lock_guard lock(cache_mu_);
    key_cache_.erase(key.access_key_id);
  }
  return submit({d}).status();
}

AccessKey make_access_key(TenantId tenant, ByteSpan material) {
  static constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  AccessKey k;
  k.tenant = tenant;
  k.access_key_id = "KS";
  for (size_t i = 0; i < 18 && i < material.size(); ++i) k.access_key_id.push_back(kAlnum[material[i] % 36]);
  for (size_t i = 20; i < 60 && i < material.size(); ++i) k.secret_key.push_back(kB64[material[i] % 64]);
  return k;
}

Result<AccessKey> LocalGateway::create_access_key(TenantId tenant, std::string_view user) {
  uint8_t rnd[60];
  crypto::random_bytes(rnd);
  AccessKey k = make_access_key(tenant, ByteSpan(rnd, sizeof(rnd)));
  k.user = std::string(user);
  secure_zero(rnd, sizeof(rnd));
  KISEKI_TRY(put_access_key(k));
  return k;
}

Result<AccessKey> LocalGateway::get_access_key(std::string_view id) const {
  {
    std::lock_guard lock(cache_mu_);
    auto it = key_cache_.find(std::string(id));
    if (it != key_cache_.end()) return it->second;
  }
  std::string v;
  Status st = root_get(Cf::kAccessKeys, id, &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no such access key");
  KISEKI_TRY(st);
  ns::AccessKeyRecord r;
  if (!ns::decode_key_record(v, &r)) return corruption("access key record");
  AccessKey k;
  k.access_key_id = std::string(id);
  k.tenant = r.tenant;
  k.user = r.user;
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(k.tenant));
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(id), as_bytes(r.sealed), &k.secret_key));
  std::lock_guard lock(cache_mu_);
  key_cache_[k.access_key_id] = k;
  return k;
}

Status LocalGateway::delete_access_key(std::string_view id) {
  KISEKI_TRY(log_->read_barrier());
  {
    std::lock_guard lock(cache_mu_);
    key_cache_.erase(std::string(id));
  }
  Delta d;
  d.op = Op::kDeleteAccessKey;
  d.name = std::string(id);
  return submit({d}).status();
}

// ---- exports and cluster secrets

Status LocalGateway::put_export(std::string_view path, std::string_view options) {
  Delta d;
  d.op = Op::kPutExport;
  d.name = std::string(path);
  d.blob = std::string(options);
  return submit({d}).status();
}

Status LocalGateway::delete_export(std::string_view path) {
  Delta d;
  d.op = Op::kDeleteExport;
  d.name = std::string(path);
  return submit({d}).status();
}

Result<std::vector<std::pair<std::string, std::string>>> LocalGateway::list_exports() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::string prefix = ns::export_key("");
  auto it = meta_->iterator(Cf::kSystem);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
  KISEKI_TRY(meta::from_rocks(it->status(), "scan exports"));
  return out;
}

Result<std::string> LocalGateway::cluster_secret(std::string_view name, size_t bytes) {
  std::string v;
  Status st = meta_->get(Cf::kSystem, ns::secret_key(name), &v);
  if (st.is_ok()) return v;
  if (st.code() != ErrorCode::kNotFound) return st;
  Delta d;
  d.op = Op::kInitSecret;
  d.name = std::string(name);
  d.blob.resize(bytes);
  crypto::random_bytes({reinterpret_cast<uint8_t*>(d.blob.data()), d.blob.size()});
  return submit({d});  // the first secret made wins; everyone gets that one
}

// ---- capacity and maintenance

Result<FsStats> LocalGateway::statfs() const {
  struct statvfs sv {};
  if (::statvfs(opts_.data_dir.c_str(), &sv) != 0) return errno_status("statvfs " + opts_.data_dir, errno);
  FsStats f;
  f.total_bytes = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  f.free_bytes = static_cast<uint64_t>(sv.f_bfree) * sv.f_frsize;
  f.avail_bytes = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  f.total_files = sv.f_files;
  f.free_files = sv.f_ffree;
  return f;
}

chunk::ScrubReport LocalGateway::scrub() const {
  chunk::ScrubReport r = chunks_->scrub([this](DomainId d) { return keys_of_domain(d); });
  // In a cluster, what failed its check here is rebuilt from the other nodes.
  if (opts_.replication && !r.damaged.empty()) {
    Status st = opts_.replication->heal(r.damaged);
    for (const auto& key : r.damaged)
      if (chunks_->locate(key).is_ok()) r.repaired.push_back(key.hex());
    if (!st.is_ok()) r.problems.push_back("rebuilding damaged copies from other nodes: " + st.to_string());
  }
  // The metadata too: every SST file's block checksums, and (on a single node,
  // which holds every chunk) every file layout resolving to chunks held here.
  for (meta::Store* store : stores())
    if (Status st = store->verify_checksums(); !st) r.problems.push_back(st.to_string());
  if (!opts_.replication) check_layouts(&r.problems);
  return r;
}

Result<size_t> LocalGateway::compact(double threshold) {
  std::lock_guard lock(maintenance_mu_);
  KISEKI_ASSIGN_OR_RETURN(chunk::CompactStats st, chunks_->compact(threshold));
  return st.segments_removed;
}

}  // namespace kiseki::gateway
