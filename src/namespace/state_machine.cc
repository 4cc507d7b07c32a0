#include "namespace/state_machine.h"

#include "namespace/apply_purge.h"
#include "namespace/apply_tree.h"
#include "namespace/versions.h"

namespace kiseki::ns {

using meta::Cf;
using meta::Txn;

std::string tenant_id_key(TenantId t) { return "I" + meta::key_u64(t); }
std::string tenant_name_key(std::string_view name) { return "N" + std::string(name); }
std::string tenant_kek_key(TenantId t) { return "K" + meta::key_u64(t); }
std::string export_key(std::string_view path) { return "export:" + std::string(path); }
std::string node_key(uint64_t id) { return "node:" + meta::key_u64(id); }
std::string secret_key(std::string_view name) { return "secret:" + std::string(name); }
std::string ns_id_key(NamespaceId n) { return "I" + meta::key_u64(n); }
std::string ns_name_key(TenantId t, std::string_view name) { return "N" + meta::key_u64(t) + std::string(name); }
std::string bucket_name_key(std::string_view name) { return "B" + std::string(name); }
std::string user_key(TenantId t, std::string_view name) { return "U" + meta::key_u64(t) + std::string(name); }

bool decode_key_record(std::string_view v, AccessKeyRecord* r) {
  Decoder d(v);
  uint64_t t = d.u64();
  r->tenant = t & ~kUserKeyBit;
  r->user = (t & kUserKeyBit) ? std::string(d.str()) : std::string();
  if (!d.ok()) return false;
  r->sealed = d.raw(d.remaining());
  return d.ok();
}

Status drop_access_keys(meta::Txn& txn, TenantId tenant, std::optional<std::string_view> user) {
  std::vector<std::string> keys;
  auto it = txn.iterator(Cf::kAccessKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    AccessKeyRecord r;
    if (!decode_key_record(it->value().ToStringView(), &r)) return corruption("access key record");
    if (r.tenant == tenant && (!user || r.user == *user)) keys.push_back(it->key().ToString());
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan access keys"));
  for (const auto& k : keys) txn.del(Cf::kAccessKeys, k);
  if (user) return Status::ok();
  std::string prefix = user_key(tenant, "");
  std::vector<std::string> users;
  auto u = txn.iterator(Cf::kTenants);
  for (u->Seek(prefix); u->Valid() && u->key().starts_with(prefix); u->Next()) users.push_back(u->key().ToString());
  KISEKI_TRY(meta::from_rocks(u->status(), "scan users"));
  for (const auto& k : users) txn.del(Cf::kTenants, k);
  return Status::ok();
}

std::string encode_key_record(TenantId tenant, std::string_view user, std::string_view sealed) {
  std::string v;
  Encoder e(&v);
  if (user.empty()) {
    e.u64(tenant);
  } else {
    e.u64(tenant | kUserKeyBit).str(user);
  }
  e.raw(sealed);
  return v;
}

std::string ns_config_key(NamespaceId n, std::string_view item) { return "C" + meta::key_u64(n) + std::string(item); }

Status drop_ns_config(meta::Txn& txn, NamespaceId n) {
  std::string prefix = "C" + meta::key_u64(n);
  std::vector<std::string> keys;
  auto it = txn.iterator(Cf::kNamespaces);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) keys.push_back(it->key().ToString());
  KISEKI_TRY(meta::from_rocks(it->status(), "scan namespace configuration"));
  for (const auto& k : keys) txn.del(Cf::kNamespaces, k);
  return Status::ok();
}

Status drop_bucket_name(meta::Txn& txn, std::string_view name, TenantId owner) {
  std::string v;
  Status st = txn.get(Cf::kNamespaces, bucket_name_key(name), &v);
  if (st.code() == ErrorCode::kNotFound) return Status::ok();
  KISEKI_TRY(st);
  if (v.size() == 16 && get_be64(reinterpret_cast<const uint8_t*>(v.data())) == owner)
    txn.del(Cf::kNamespaces, bucket_name_key(name));
  return Status::ok();
}

std::string encode_ns_record(const NamespaceRecord& r) {
  std::string v;
  Encoder(&v).u64(r.id).u64(r.tenant).str(r.name).str(r.blob);
  return v;
}

Status decode_ns_record(std::string_view v, NamespaceRecord* r) {
  Decoder d(v);
  r->id = d.u64();
  r->tenant = d.u64();
  r->name = std::string(d.str());
  r->blob = std::string(d.str());
  return d.ok() && d.done() ? Status::ok() : corruption("namespace record");
}

std::string upload_key(NamespaceId ns, std::string_view upload_id) {
  return meta::key_u64(ns) + std::string(upload_id);
}
std::string part_key(NamespaceId ns, std::string_view upload_id, uint32_t part) {
  std::string k = upload_key(ns, upload_id);
  Encoder(&k).u8(0).u32(part);
  return k;
}

namespace {

std::string out_u64(uint64_t v) { return meta::key_u64(v); }

// A node's own faults, as opposed to a record's refusal: these abort the group.
bool is_fault(ErrorCode c) {
  return c == ErrorCode::kIoError || c == ErrorCode::kCorruption || c == ErrorCode::kNoSpace ||
         c == ErrorCode::kUnavailable || c == ErrorCode::kTimeout;
}

std::string request_key(const RequestId& r) { return "R" + meta::key_u64_u64(r.client, r.seq); }
std::string order_key(uint64_t n) { return "Q" + meta::key_u64(n); }

std::string encode_result(const log::ApplyResult& r) {
  std::string v;
  Encoder(&v).u8(static_cast<uint8_t>(r.status.code())).str(r.status.message()).str(r.out);
  return v;
}

// Remembers a request's result and forgets the oldest beyond the window, so the
// table stays bounded and every replica forgets the same ones.
Status remember(meta::Txn& txn, const RequestId& req, const log::ApplyResult& r) {
  txn.put(Cf::kRequests, request_key(req), encode_result(r));
  KISEKI_ASSIGN_OR_RETURN(uint64_t n, txn.next_counter("request_order"));
  txn.put(Cf::kRequests, order_key(n), request_key(req));
  if (n <= kRequestWindow) return Status::ok();
  std::string old;
  Status st = txn.get(Cf::kRequests, order_key(n - kRequestWindow), &old);
  if (st.code() == ErrorCode::kNotFound) return Status::ok();
  KISEKI_TRY(st);
  txn.del(Cf::kRequests, order_key(n - kRequestWindow));
  if (old != request_key(req)) txn.del(Cf::kRequests, old);
  return Status::ok();
}

}  // namespace

namespace {

template <typename Reader>
Result<std::optional<log::ApplyResult>> lookup_request_in(const Reader& r, const RequestId& req) {
  std::string v;
  Status st = r.get(Cf::kRequests, request_key(req), &v);
  if (st.code() == ErrorCode::kNotFound) return std::optional<log::ApplyResult>();
  KISEKI_TRY(st);
  Decoder d(v);
  auto code = static_cast<ErrorCode>(d.u8());
  std::string msg(d.str());
  std::string out(d.str());
  if (!d.ok() || !d.done()) return corruption("request result record");
  log::ApplyResult res;
  res.status = code == ErrorCode::kOk ? Status::ok() : Status(code, std::move(msg));
  res.out = std::move(out);
  return std::optional<log::ApplyResult>(std::move(res));
}

}  // namespace

Result<std::optional<log::ApplyResult>> lookup_request(const meta::Txn& txn, const RequestId& req) {
  return lookup_request_in(txn, req);
}
Result<std::optional<log::ApplyResult>> lookup_request(const meta::Store& store, const RequestId& req) {
  return lookup_request_in(store, req);
}

Status StateMachine::apply(std::string_view record, meta::Txn& txn, log::ApplyResult* result) {
  std::vector<Delta> deltas;
  RequestId req;
  KISEKI_TRY(decode_record(record, &deltas, &req));
  if (!req.empty()) {
    KISEKI_ASSIGN_OR_RETURN(auto first, lookup_request(txn, req));
    if (first) {
      *result = std::move(*first);  // a retry: the first result, applied once
      return Status::ok();
    }
  }
  txn.set_savepoint();
  Status st;
  for (const auto& d : deltas) {
    st = apply_one(d, txn, &result->out);
    if (!st.is_ok()) break;
  }
  if (!st.is_ok()) {
    txn.rollback_to_savepoint();
    if (is_fault(st.code())) return st;
    result->out.clear();
  } else {
    txn.pop_savepoint();
  }
  result->status = std::move(st);
  // A conflict means "re-read and try again": the retry must apply, not replay.
  if (!req.empty() && result->status.code() != ErrorCode::kConflict) KISEKI_TRY(remember(txn, req, *result));
  return Status::ok();
}

Status StateMachine::apply_one(const Delta& d, meta::Txn& txn, std::string* out) {
  switch (d.op) {
    case Op::kCreateTenant: {
      KISEKI_ASSIGN_OR_RETURN(bool taken, txn.exists(Cf::kTenants, tenant_name_key(d.name)));
      if (taken) return make_error(ErrorCode::kExists, "tenant " + d.name + " exists");
      KISEKI_ASSIGN_OR_RETURN(TenantId id, txn.next_counter("tenant"));
      txn.put(Cf::kTenants, tenant_name_key(d.name), meta::key_u64(id));
      txn.put(Cf::kTenants, tenant_id_key(id), d.blob);
      if (!d.name2.empty()) txn.put(Cf::kTenants, tenant_kek_key(id), d.name2);
      *out = out_u64(id);
      return Status::ok();
    }
    case Op::kSetTenant: {
      KISEKI_ASSIGN_OR_RETURN(bool known, txn.exists(Cf::kTenants, tenant_id_key(d.a)));
      if (!known) return not_found("no such tenant");
      txn.put(Cf::kTenants, tenant_id_key(d.a), d.blob);
      if (d.flags & kShred) return apply_shred(d, txn);
      return Status::ok();
    }
    case Op::kCreateNamespace: {
      KISEKI_ASSIGN_OR_RETURN(bool tenant, txn.exists(Cf::kTenants, tenant_id_key(d.a)));
      if (!tenant) return not_found("no such tenant");
      std::string owner;
      Status st = txn.get(Cf::kNamespaces, bucket_name_key(d.name), &owner);
      if (st.is_ok() && owner.size() == 16 && get_be64(reinterpret_cast<const uint8_t*>(owner.data())) != d.a)
        return make_error(ErrorCode::kExists, "BucketAlreadyExists: the name " + d.name +
                                                  " is another tenant's (namespace names are global, like bucket names)");
      if (!st.is_ok() && st.code() != ErrorCode::kNotFound) return st;
      KISEKI_ASSIGN_OR_RETURN(bool taken, txn.exists(Cf::kNamespaces, ns_name_key(d.a, d.name)));
      if (taken) return make_error(ErrorCode::kExists, "namespace " + d.name + " exists");
      KISEKI_ASSIGN_OR_RETURN(NamespaceId id, txn.next_counter("namespace"));
      txn.put(Cf::kNamespaces, ns_name_key(d.a, d.name), meta::key_u64(id));
      txn.put(Cf::kNamespaces, bucket_name_key(d.name), meta::key_u64_u64(d.a, id));
      txn.put(Cf::kNamespaces, ns_id_key(id), encode_ns_record({id, d.a, d.name, d.blob}));
      // The root directory lives where the namespace's files do: here, or in
      // its data shard (the Gateway's kCreateRoot there).
      if (shard_of(id, shards_) == shard_) KISEKI_TRY(put_root_inode(txn, id, d.inode));
      *out = out_u64(id);
      return Status::ok();
    }
    case Op::kCreateRoot: {
      if (shard_of(d.ns, shards_) != shard_) return invalid_argument("namespace in another shard");
      KISEKI_ASSIGN_OR_RETURN(bool there, txn.exists(Cf::kInodes, meta::inode_key(d.ns, kRootInode)));
      if (!there) KISEKI_TRY(put_root_inode(txn, d.ns, d.inode));
      return Status::ok();
    }
    case Op::kDropRoot: {
      if (shard_of(d.ns, shards_) != shard_) return invalid_argument("namespace in another shard");
      KISEKI_ASSIGN_OR_RETURN(bool there, txn.exists(Cf::kInodes, meta::inode_key(d.ns, kRootInode)));
      if (!there) return Status::ok();
      KISEKI_ASSIGN_OR_RETURN(bool empty, namespace_is_empty(txn, d.ns));
      if (!empty) return make_error(ErrorCode::kNotEmpty, "namespace not empty");
      auto it = txn.iterator(Cf::kMultipart);
      it->Seek(meta::key_u64(d.ns));
      if (it->Valid() && it->key().starts_with(meta::key_u64(d.ns)))
        return make_error(ErrorCode::kNotEmpty, "namespace has multipart uploads in progress");
      KISEKI_TRY(meta::from_rocks(it->status(), "scan uploads"));
      drop_namespace_dirs(txn, d.ns);
      return Status::ok();
    }
    case Op::kDeleteNamespace: {
      std::string v;
      KISEKI_TRY(txn.get(Cf::kNamespaces, ns_name_key(d.a, d.name), &v));
      if (v.size() != 8) return corruption("namespace name entry");
      NamespaceId id = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
      // A namespace of another shard: its root went there first (kDropRoot).
      if (shard_of(id, shards_) == shard_) {
        KISEKI_ASSIGN_OR_RETURN(bool empty, namespace_is_empty(txn, id));
        if (!empty) return make_error(ErrorCode::kNotEmpty, "namespace not empty");
        auto it = txn.iterator(Cf::kMultipart);
        it->Seek(meta::key_u64(id));
        if (it->Valid() && it->key().starts_with(meta::key_u64(id)))
          return make_error(ErrorCode::kNotEmpty, "namespace has multipart uploads in progress");
        KISEKI_TRY(meta::from_rocks(it->status(), "scan uploads"));
      }
      txn.del(Cf::kNamespaces, ns_name_key(d.a, d.name));
      txn.del(Cf::kNamespaces, ns_id_key(id));
      drop_namespace_dirs(txn, id);
      KISEKI_TRY(drop_ns_config(txn, id));
      return drop_bucket_name(txn, d.name, d.a);
    }
    case Op::kSetNamespaceConfig: {
      std::string v;
      Status st = txn.get(Cf::kNamespaces, ns_id_key(d.ns), &v);
      if (st.code() == ErrorCode::kNotFound) return not_found("no such namespace");
      KISEKI_TRY(st);
      NamespaceRecord r;
      KISEKI_TRY(decode_ns_record(v, &r));
      if (r.tenant != d.a) return not_found("no such namespace");
      if (d.name.empty()) return invalid_argument("a configuration item needs a name");
      if (d.blob.empty()) txn.del(Cf::kNamespaces, ns_config_key(d.ns, d.name));
      else txn.put(Cf::kNamespaces, ns_config_key(d.ns, d.name), d.blob);
      return Status::ok();
    }
    case Op::kPutAccessKey: {
      AccessKeyRecord r;
      if (!decode_key_record(d.blob, &r)) return invalid_argument("access key record");
      if (!r.user.empty()) {
        KISEKI_ASSIGN_OR_RETURN(bool user, txn.exists(Cf::kTenants, user_key(r.tenant, r.user)));
        if (!user) return not_found("no user " + r.user);
      }
      txn.put(Cf::kAccessKeys, d.name, d.blob);
      return Status::ok();
    }
    case Op::kPutUser: {
      KISEKI_ASSIGN_OR_RETURN(bool tenant, txn.exists(Cf::kTenants, tenant_id_key(d.a)));
      if (!tenant) return not_found("no such tenant");
      KISEKI_ASSIGN_OR_RETURN(bool there, txn.exists(Cf::kTenants, user_key(d.a, d.name)));
      if (there && (d.flags & kExclusive)) return make_error(ErrorCode::kExists, "user " + d.name + " exists");
      txn.put(Cf::kTenants, user_key(d.a, d.name), d.blob);
      return Status::ok();
    }
    case Op::kDeleteUser: {
      KISEKI_ASSIGN_OR_RETURN(bool there, txn.exists(Cf::kTenants, user_key(d.a, d.name)));
      if (!there) return not_found("no user " + d.name);
      txn.del(Cf::kTenants, user_key(d.a, d.name));
      return drop_access_keys(txn, d.a, d.name);
    }
    case Op::kDeleteAccessKey: {
      KISEKI_ASSIGN_OR_RETURN(bool known, txn.exists(Cf::kAccessKeys, d.name));
      if (!known) return not_found("no such access key");
      txn.del(Cf::kAccessKeys, d.name);
      return Status::ok();
    }
    case Op::kInitSecret: {
      std::string v;
      Status st = txn.get(Cf::kSystem, secret_key(d.name), &v);
      if (st.is_ok()) {
        *out = std::move(v);  // the first one made stays
        return Status::ok();
      }
      if (st.code() != ErrorCode::kNotFound) return st;
      txn.put(Cf::kSystem, secret_key(d.name), d.blob);
      *out = d.blob;
      return Status::ok();
    }
    case Op::kPutExport:
      txn.put(Cf::kSystem, export_key(d.name), d.blob);
      return Status::ok();
    case Op::kDeleteExport:
      txn.del(Cf::kSystem, export_key(d.name));
      return Status::ok();
    case Op::kSetNode: {
      if (d.a == 0 || d.blob.empty()) return invalid_argument("node record without an id");
      if (d.flags & kExclusive) {
        KISEKI_ASSIGN_OR_RETURN(bool known, txn.exists(Cf::kSystem, node_key(d.a)));
        if (known) return Status::ok();  // the record there stays
      }
      txn.put(Cf::kSystem, node_key(d.a), d.blob);
      return Status::ok();
    }
    case Op::kPurgeTenant:
      return shard_ == 0 ? apply_purge(d, txn, out) : apply_purge_data(d, txn, out);
    case Op::kIndexBuckets: {
      KISEKI_ASSIGN_OR_RETURN(bool done, txn.exists(Cf::kSystem, kBucketIndexDone));
      if (done) return Status::ok();
      // 'N' · tenant · name → id, in tenant order: where two tenants made the same
      // name before names were global, the older tenant keeps it in the index.
      std::vector<std::pair<std::string, std::string>> entries;
      auto it = txn.iterator(Cf::kNamespaces);
      for (it->Seek("N"); it->Valid() && it->key().starts_with("N"); it->Next()) {
        if (it->key().size() < 9 || it->value().size() != 8) return corruption("namespace name entry");
        std::string name = it->key().ToString().substr(9);
        entries.emplace_back(name, it->key().ToString().substr(1, 8) + it->value().ToString());
      }
      KISEKI_TRY(meta::from_rocks(it->status(), "scan namespace names"));
      for (const auto& [name, owner] : entries) {
        KISEKI_ASSIGN_OR_RETURN(bool indexed, txn.exists(Cf::kNamespaces, bucket_name_key(name)));
        if (!indexed) txn.put(Cf::kNamespaces, bucket_name_key(name), owner);
      }
      txn.put(Cf::kSystem, kBucketIndexDone, "");
      return Status::ok();
    }
    default:
      return apply_tree_op(d, txn, out);
  }
}

}  // namespace kiseki::ns
