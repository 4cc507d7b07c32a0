#include "namespace/apply_purge.h"

#include "chunk/refs.h"
#include "namespace/state_machine.h"

namespace kiseki::ns {

using meta::Cf;

std::string purge_prefix(TenantId t) { return "purge:" + meta::key_u64(t); }
std::string purge_key(TenantId t, NamespaceId n) { return purge_prefix(t) + meta::key_u64(n); }

// Keys of `c` under `prefix`, at most `limit` of them (collected before any is
// deleted: the batch's iterator does not survive changes to the batch).
static Result<std::vector<std::string>> keys_under(const meta::Txn& txn, Cf c, std::string_view prefix,
                                                   uint64_t limit) {
  std::vector<std::string> keys;
  auto it = txn.iterator(c);
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       keys.size() < limit && it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next())
    keys.push_back(it->key().ToString());
  KISEKI_TRY(meta::from_rocks(it->status(), "scan for purge"));
  return keys;
}

Status apply_shred(const Delta& d, meta::Txn& txn) {
  KISEKI_ASSIGN_OR_RETURN(auto names, keys_under(txn, Cf::kNamespaces, "N" + meta::key_u64(d.a), UINT64_MAX));
  for (const auto& k : names) {
    std::string v;
    KISEKI_TRY(txn.get(Cf::kNamespaces, k, &v));
    if (v.size() != 8) return corruption("namespace name entry");
    NamespaceId id = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
    txn.del(Cf::kNamespaces, k);
    txn.del(Cf::kNamespaces, ns_id_key(id));
    KISEKI_TRY(drop_ns_config(txn, id));
    KISEKI_TRY(drop_bucket_name(txn, std::string_view(k).substr(9), d.a));
    txn.put(Cf::kSystem, purge_key(d.a, id), "");
  }
  KISEKI_TRY(drop_access_keys(txn, d.a, std::nullopt));  // its users' keys and its users too
  txn.del(Cf::kTenants, tenant_kek_key(d.a));
  return Status::ok();
}

namespace {
// Deletes, within `d.version` keys, what the purge of tenant `d.a` removes
// from one store: the namespaces `ns_ids` names (and `queue_of`, when given,
// tells which key to drop once a namespace is gone), then the tenant's chunk
// references. Answers u64 deleted · u8 more.
Status purge_batch(const Delta& d, meta::Txn& txn, const std::vector<std::string>& ns_ids,
                   const std::vector<std::string>& queue_keys, std::string* out) {
  uint64_t budget = d.version, deleted = 0;
  auto done = [&](bool more) {
    Encoder(out).u64(deleted).u8(more ? 1 : 0);
    return Status::ok();
  };
  // Deletes up to the budget of `c`'s keys under `prefix`; true if all went.
  auto purge_range = [&](Cf c, std::string_view prefix) -> Result<bool> {
    KISEKI_ASSIGN_OR_RETURN(auto keys, keys_under(txn, c, prefix, budget + 1));
    bool all = keys.size() <= budget;
    if (!all) keys.resize(budget);
    for (const auto& k : keys) txn.del(c, k);
    budget -= keys.size();
    deleted += keys.size();
    return all;
  };
  for (size_t i = 0; i < ns_ids.size(); ++i) {
    for (Cf c : {Cf::kDentries, Cf::kDirCookies, Cf::kInodes, Cf::kMultipart}) {
      KISEKI_ASSIGN_OR_RETURN(bool all, purge_range(c, ns_ids[i]));
      if (!all) return done(true);
    }
    if (i < queue_keys.size()) txn.del(Cf::kSystem, queue_keys[i]);
  }
  if (d.flags & kPurgeDomain) {
    // The tenant's own domain: every reference in it is the tenant's.
    KISEKI_ASSIGN_OR_RETURN(bool all, purge_range(Cf::kChunkRefs, meta::key_u64(d.a)));
    return done(!all);
  }
  // A shared-domain tenant: its ledger says which references are its own.
  KISEKI_ASSIGN_OR_RETURN(uint64_t n, chunk::apply_purge_ledger(txn, d.a, budget + 1));
  deleted += n;
  return done(n > budget);
}
}  // namespace

Status apply_purge(const Delta& d, meta::Txn& txn, std::string* out) {
  KISEKI_ASSIGN_OR_RETURN(bool known, txn.exists(Cf::kTenants, tenant_id_key(d.a)));
  if (!known) return not_found("no such tenant");
  if (d.a == kSharedDomain) return invalid_argument("tenant 0 does not exist");
  if (d.version == 0) return invalid_argument("purge needs a batch size");
  // Only a shredded tenant is purged: the shred dropped its wrapped KEK.
  KISEKI_ASSIGN_OR_RETURN(bool live, txn.exists(Cf::kTenants, tenant_kek_key(d.a)));
  if (live) return invalid_argument("tenant " + std::to_string(d.a) + " is not shredded");
  KISEKI_ASSIGN_OR_RETURN(auto queued, keys_under(txn, Cf::kSystem, purge_prefix(d.a), UINT64_MAX));
  std::vector<std::string> ids;
  for (const auto& q : queued) ids.push_back(q.substr(q.size() - 8));
  return purge_batch(d, txn, ids, queued, out);
}

Status apply_purge_data(const Delta& d, meta::Txn& txn, std::string* out) {
  if (d.a == kSharedDomain) return invalid_argument("tenant 0 does not exist");
  if (d.version == 0) return invalid_argument("purge needs a batch size");
  if (d.blob.size() % 8 != 0) return invalid_argument("purge: namespace ids are 8 bytes each");
  std::vector<std::string> ids;
  for (size_t i = 0; i < d.blob.size(); i += 8) ids.push_back(d.blob.substr(i, 8));
  return purge_batch(d, txn, ids, {}, out);
}

}  // namespace kiseki::ns
