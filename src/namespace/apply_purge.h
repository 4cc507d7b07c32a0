// Apply of a crypto-shred and of the purge that follows it. Shredding a tenant
// takes its namespaces off every protocol at once (their records go, each is
// queued for purge) and drops its access keys; purge records then delete what
// is left of the queued namespaces (inodes, names, cookies, uploads) and the
// reference counts of the tenant's own dedup domain, a bounded batch at a time,
// so the chunk store collects the domain's chunks. All of it is replicated
// state: every replica deletes the same keys.
#pragma once

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// system: a namespace of a shredded tenant still to purge.
std::string purge_key(TenantId t, NamespaceId n);
std::string purge_prefix(TenantId t);

// kSetTenant with kShred: a = tenant.
Status apply_shred(const Delta& d, meta::Txn& txn);
// kPurgeTenant: a = tenant, version = most keys to delete (about); kPurgeDomain
// purges the reference counts of domain a, otherwise the tenant's ledger of
// shared-domain references goes (chunk/refs.h). out: u64 keys deleted · u8 1
// while work remains.
Status apply_purge(const Delta& d, meta::Txn& txn, std::string* out);
// The same in a data shard (ADR 0009), which holds no tenant records: the
// namespaces to purge come in the record (blob: their ids, u64 each), checked
// by the root shard's shred before the Gateway sent it.
Status apply_purge_data(const Delta& d, meta::Txn& txn, std::string* out);

}  // namespace kiseki::ns
