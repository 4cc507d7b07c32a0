// Tenants: records, keys and dedup domains; crypto-shred and the purge after it
// (docs/security.md).
#include "chunk/refs.h"
#include "common/logging.h"
#include "crypto/chunk_cipher.h"
#include "gateway/local_gateway.h"
#include "namespace/apply_purge.h"
#include "common/kill_point.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Op;

namespace {

// The shared domain's root key: wrapped under the master key like a tenant KEK
// and kept as the cluster secret of this name.
constexpr std::string_view kSharedRootSecret = "shared-domain-key";
constexpr std::string_view kSharedRootName = "shared-domain";
// Keys one purge record deletes, about.
constexpr uint64_t kPurgeBatch = 2048;
// Node-local (default column family): the metadata store's files still hold a
// purged tenant's names; value = the ids of the namespaces purged.
std::string erase_pending_key(TenantId t) { return "erase-pending:" + meta::key_u64(t); }

// Tenant record: str name · u8 shredded · u8 dedup domain (0 own, 1 shared).
std::string encode_tenant(const TenantInfo& t) {
  std::string v;
  Encoder(&v).str(t.name).u8(t.shredded ? 1 : 0).u8(t.shared_dedup ? 1 : 0);
  return v;
}

Result<TenantInfo> decode_tenant(TenantId id, std::string_view v) {
  Decoder d(v);
  TenantInfo t;
  t.id = id;
  t.name = std::string(d.str());
  t.shredded = d.u8() != 0;
  t.shared_dedup = d.u8() != 0;
  if (!d.ok()) return corruption("tenant record");
  return t;
}

}  // namespace

Result<crypto::SecretKey> LocalGateway::tenant_key(TenantId t) const {
  auto k = keys_->tenant_kek(t);
  if (k.code() != ErrorCode::kNotFound) return k;
  // Not installed on this node yet (a replica, a key file lost): the replicated
  // tenant record holds it wrapped under the master key.
  std::string wrapped;
  Status st = meta_->get(Cf::kTenants, ns::tenant_kek_key(t), &wrapped);
  if (st.code() == ErrorCode::kNotFound) return k;
  KISEKI_TRY(st);
  KISEKI_ASSIGN_OR_RETURN(TenantInfo info, get_tenant(t));
  KISEKI_TRY(keys_->install_tenant_key(t, info.name, wrapped));
  return keys_->tenant_kek(t);
}

Status LocalGateway::ensure_shared_domain() {
  std::string v;
  Status st = meta_->get(Cf::kSystem, ns::secret_key(kSharedRootSecret), &v);
  if (st.code() != ErrorCode::kNotFound) return st;
  Delta d;
  d.op = Op::kInitSecret;
  d.name = std::string(kSharedRootSecret);
  KISEKI_ASSIGN_OR_RETURN(d.blob, keys_->new_wrapped_tenant_key(kSharedRootName));
  return submit({d}).status();  // the first one made wins
}

Result<crypto::SecretKey> LocalGateway::shared_root() const {
  std::string wrapped;
  KISEKI_TRY(meta_->get(Cf::kSystem, ns::secret_key(kSharedRootSecret), &wrapped));
  return keys_->unwrap_key(kSharedRootName, wrapped);
}

Result<crypto::DomainKeys> LocalGateway::domain_keys(TenantId t) const {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = domain_cache_.find(t); it != domain_cache_.end()) return it->second;
  }
  KISEKI_ASSIGN_OR_RETURN(TenantInfo info, get_tenant(t));
  if (info.shredded) return make_error(ErrorCode::kCryptoShredded, "tenant " + std::to_string(t) + " was crypto-shredded");
  crypto::DomainKeys k;
  if (info.shared_dedup) {
    KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey root, shared_root());
    k = crypto::derive_domain_keys(kSharedDomain, root);
  } else {
    KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(t));
    k = crypto::derive_domain_keys(t, kek);
  }
  std::lock_guard lock(cache_mu_);
  domain_cache_.insert_or_assign(t, k);
  return k;
}

Result<crypto::DomainKeys> LocalGateway::keys_of_domain(DomainId d) const {
  if (d == kSharedDomain) {
    KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey root, shared_root());
    return crypto::derive_domain_keys(kSharedDomain, root);
  }
  KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys k, domain_keys(d));  // kCryptoShredded after a shred
  if (k.domain != d) return not_found("tenant " + std::to_string(d) + " has no dedup domain of its own");
  return k;
}

bool LocalGateway::is_shredded(TenantId t) const {
  if (!any_shredded_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(shredded_mu_);
  return shredded_.count(t) > 0;
}

Result<TenantId> LocalGateway::create_tenant(std::string_view name, bool shared_dedup) {
  KISEKI_TRY(ns::validate_name(name));
  Delta d;
  d.op = Op::kCreateTenant;
  d.name = std::string(name);
  d.blob = encode_tenant({0, std::string(name), false, shared_dedup});
  KISEKI_ASSIGN_OR_RETURN(d.name2, keys_->new_wrapped_tenant_key(name));
  KISEKI_ASSIGN_OR_RETURN(std::string out, submit({d}));
  TenantId id = get_be64(reinterpret_cast<const uint8_t*>(out.data()));
  KISEKI_TRY(keys_->install_tenant_key(id, name, d.name2));
  return id;
}

Result<TenantInfo> LocalGateway::get_tenant(TenantId id) const {
  std::string v;
  Status st = meta_->get(Cf::kTenants, ns::tenant_id_key(id), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no tenant " + std::to_string(id));
  KISEKI_TRY(st);
  return decode_tenant(id, v);
}

Result<TenantInfo> LocalGateway::find_tenant(std::string_view name) const {
  std::string v;
  Status st = root_get(Cf::kTenants, ns::tenant_name_key(name), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no tenant " + std::string(name));
  KISEKI_TRY(st);
  return get_tenant(get_be64(reinterpret_cast<const uint8_t*>(v.data())));
}

std::vector<TenantInfo> LocalGateway::list_tenants() const {
  std::vector<TenantInfo> out;
  auto it = meta_->iterator(Cf::kTenants);
  for (it->Seek("I"); it->Valid() && it->key().starts_with("I"); it->Next()) {
    if (it->key().size() != 9) continue;
    auto t = decode_tenant(get_be64(reinterpret_cast<const uint8_t*>(it->key().data() + 1)),
                           it->value().ToStringView());
    if (t) out.push_back(*t);
  }
  return out;
}

Status LocalGateway::shred_tenant(TenantId id) {
  KISEKI_TRY(log_->read_barrier());
  KISEKI_ASSIGN_OR_RETURN(TenantInfo t, get_tenant(id));
  if (std::string v; meta_->get(Cf::kDefault, erase_pending_key(id), &v).code() == ErrorCode::kNotFound) {
    rocksdb::WriteBatch b;  // this node's purge is due (purge_tenant)
    b.Put(meta_->cf(Cf::kDefault), erase_pending_key(id), "");
    KISEKI_TRY(meta_->write(&b, true));
  }
  if (!t.shredded) {
    t.shredded = true;
    std::vector<Delta> ds(1);
    ds[0].op = Op::kSetTenant;
    ds[0].flags = ns::kShred;
    ds[0].a = id;
    ds[0].blob = encode_tenant(t);
    // Exports are named /tenant/namespace: those of this tenant go with it.
    KISEKI_ASSIGN_OR_RETURN(auto exports, list_exports());
    std::string mine = "/" + t.name + "/";
    for (const auto& [path, options] : exports) {
      if (!path.starts_with(mine) && path != mine.substr(0, mine.size() - 1)) continue;
      Delta e;
      e.op = Op::kDeleteExport;
      e.name = path;
      ds.push_back(std::move(e));
    }
    KISEKI_TRY(submit(std::move(ds)).status());
    KISEKI_KILL_POINT("shred.after_record");
  }
  {
    std::lock_guard lock(shredded_mu_);
    shredded_.insert(id);
    any_shredded_.store(true, std::memory_order_release);
  }
  // Again after a crash half-way: each step is idempotent.
  KISEKI_TRY(keys_->shred_tenant_key(id));
  forget_tenant(id);
  // No opened chunk outlives a shred (shared chunks are other tenants' too:
  // they go from the cache, and come back when those tenants read them).
  cache_->clear_domain(t.shared_dedup ? kSharedDomain : DomainId{t.id}, !t.shared_dedup);
  opened_.clear();  // nor an opened layout (inline objects hold their bytes)
  listings_.clear();  // nor a listing of names
  inodes_.clear();    // nor an inode (names, sealed layouts)
  // The wrapped KEK was in the tenant record and in the record that created
  // it: neither may survive in a write-ahead log or an SST file.
  KISEKI_TRY(meta_->erase_history({{Cf::kTenants, ""}}));
  KLOG_INFO("tenant {} ({}) crypto-shredded; its namespaces are purged in the background", id, t.name);
  wake_purge();
  return Status::ok();
}

// ---- the purge of shredded tenants

Status LocalGateway::purge_shredded() {
  std::lock_guard one(purge_run_mu_);
  for (const auto& t : list_tenants()) {
    if (!t.shredded) continue;
    KISEKI_TRY(purge_tenant(t));
  }
  return Status::ok();
}

Status LocalGateway::purge_tenant(const TenantInfo& t) {
  // The marker says this node has work left for the tenant; shred_tenant sets it.
  std::string pending;
  Status st = meta_->get(Cf::kDefault, erase_pending_key(t.id), &pending);
  if (st.code() == ErrorCode::kNotFound) return Status::ok();
  KISEKI_TRY(st);
  // The namespaces being purged, so that erasing their history can be limited
  // to their key ranges (kept in the marker across a restart).
  std::string prefix = ns::purge_prefix(t.id);
  auto it = meta_->iterator(Cf::kSystem);
  size_t had = pending.size();
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    pending.append(it->key().ToStringView().substr(prefix.size()));
  KISEKI_TRY(meta::from_rocks(it->status(), "scan purge queue"));
  it.reset();
  if (pending.size() != had) {
    rocksdb::WriteBatch b;
    b.Put(meta_->cf(Cf::kDefault), erase_pending_key(t.id), pending);
    KISEKI_TRY(meta_->write(&b, true));
  }
  uint64_t deleted = 0;
  // The data shards first (ADR 0009: they are told which namespaces), the
  // root last: its purge drops the queue that names them.
  for (uint32_t k = shard_count(); k-- > 0;) {
    std::string ids;
    for (size_t i = 0; i + 8 <= pending.size(); i += 8)
      if (ns::shard_of(get_be64(reinterpret_cast<const uint8_t*>(pending.data() + i)), shard_count()) == k)
        ids += pending.substr(i, 8);
    for (bool more = true; more;) {
      {
        std::lock_guard lock(purge_mu_);
        if (purge_stop_) return Status::ok();
      }
      Delta d;
      d.op = Op::kPurgeTenant;
      d.a = t.id;
      d.version = kPurgeBatch;
      d.flags = t.shared_dedup ? 0u : uint32_t{ns::kPurgeDomain};
      if (k != 0) d.blob = ids;
      KISEKI_ASSIGN_OR_RETURN(std::string out, submit({d}, /*durable=*/false, {}, k));
      Decoder dec(out);
      uint64_t n = dec.u64();
      more = dec.u8() != 0;
      if (!dec.ok()) return corruption("purge result");
      deleted += n;
    }
  }
  // The tenant's own chunks are all unreferenced now; shared ones it alone held too.
  KISEKI_ASSIGN_OR_RETURN(size_t collected,
                          chunks_->collect_garbage(t.shared_dedup ? kSharedDomain : DomainId{t.id}));
  std::vector<std::pair<Cf, std::string>> ranges = {
      {Cf::kTenants, ""}, {Cf::kNamespaces, ""}, {Cf::kAccessKeys, ""}, {Cf::kSystem, ""}};
  for (size_t i = 0; i + 8 <= pending.size(); i += 8)
    for (Cf c : {Cf::kInodes, Cf::kDentries, Cf::kDirCookies, Cf::kMultipart})
      ranges.emplace_back(c, pending.substr(i, 8));
  if (!t.shared_dedup) {
    ranges.emplace_back(Cf::kChunkRefs, meta::key_u64(t.id));
    ranges.emplace_back(Cf::kChunkLocs, meta::key_u64(t.id));
  } else {
    ranges.emplace_back(Cf::kChunkRefs, chunk::ledger_prefix(t.id));
  }
  KISEKI_TRY(chunks_->flush_local());
  KISEKI_KILL_POINT("purge.before_erase");
  KISEKI_TRY(meta_->erase_history(ranges));
  for (const auto& d : data_) KISEKI_TRY(d.store->erase_history(ranges));
  KISEKI_KILL_POINT("purge.after_erase");
  rocksdb::WriteBatch b;
  b.Delete(meta_->cf(Cf::kDefault), erase_pending_key(t.id));
  KISEKI_TRY(meta_->write(&b, true));
  KLOG_INFO("tenant {} ({}): purged {} metadata entries and {} chunks of the shredded tenant", t.id, t.name,
            deleted, collected);
  return Status::ok();
}

void LocalGateway::wake_purge() {
  std::lock_guard lock(purge_mu_);
  purge_wanted_ = true;
  purge_cv_.notify_all();
}

void LocalGateway::want_compaction() {
  std::lock_guard lock(purge_mu_);
  compact_wanted_ = true;
  purge_cv_.notify_all();
}

void LocalGateway::compact_for_space() {
  auto n = compact(0.5);
  segments_->recheck_space();
  if (!n) KLOG_WARN("compaction for space failed: {}", n.status().to_string());
  else if (*n > 0) KLOG_INFO("space was low: compaction removed {} segments", *n);
}

void LocalGateway::purge_loop() {
  std::unique_lock lock(purge_mu_);
  while (!purge_stop_) {
    // While space is low a pass also comes every few seconds.
    purge_cv_.wait_for(lock, std::chrono::seconds(5),
                       [&] { return purge_stop_ || purge_wanted_ || compact_wanted_; });
    if (purge_stop_) break;
    bool compact = std::exchange(compact_wanted_, false) || segments_->space_low();
    bool purge = std::exchange(purge_wanted_, false);
    std::vector<TenantId> remote;
    bool collect = false;
    if (purge) {
      remote.swap(remote_shreds_);
      collect = std::exchange(collect_wanted_, false);
    }
    lock.unlock();
    if (compact) compact_for_space();
    if (!purge) {
      lock.lock();
      continue;
    }
    // Shreds another node took: this node's own steps (its key file, caches,
    // the history in its store's files), as shred_tenant takes them.
    Status st;
    for (TenantId t : remote)
      if (Status s = shred_tenant(t); !s && st.is_ok()) st = s;
    if (st.is_ok()) st = purge_shredded();
    // After a snapshot install: the chunks the new state no longer references.
    if (collect)
      if (auto c = chunks_->collect_garbage(); !c) st = c.status();
    lock.lock();
    if (!st.is_ok() && collect) collect_wanted_ = true;
    if (!st.is_ok()) {
      KLOG_ERROR("purge of shredded tenants failed (retried in a minute): {}", st.to_string());
      purge_cv_.wait_for(lock, std::chrono::minutes(1), [&] { return purge_stop_; });
      purge_wanted_ = true;
    }
  }
}

}  // namespace kiseki::gateway
