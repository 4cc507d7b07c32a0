// The namespace state machine: applies delta records to the metadata store. The
// one piece of apply code for the local log and for every Raft replica.
#pragma once

#include <optional>

#include "log/delta_log.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// How many request results the replicated state keeps: a retry of a request
// older than the last kRequestWindow requests applies again.
constexpr uint64_t kRequestWindow = 100'000;

// Apply is fail-stop and idempotent: a read or decode error aborts the group
// (log::StateMachine); a record with a request id that was applied before gets
// its first result back and changes nothing.
class StateMachine final : public log::StateMachine {
 public:
  // The state machine of metadata shard `shard` of `shards` (ADR 0009): the
  // root shard 0 also holds tenants, keys and the namespace catalog; a
  // namespace's files live in shard_of(its id).
  explicit StateMachine(uint32_t shard = 0, uint32_t shards = 1) : shard_(shard), shards_(shards) {}
  Status apply(std::string_view record, meta::Txn& txn, log::ApplyResult* result) override;

 private:
  Status apply_one(const Delta& d, meta::Txn& txn, std::string* out);
  uint32_t shard_, shards_;
};

// The remembered result of a request, if it is still in the window.
Result<std::optional<log::ApplyResult>> lookup_request(const meta::Txn& txn, const RequestId& req);
Result<std::optional<log::ApplyResult>> lookup_request(const meta::Store& store, const RequestId& req);

// Keys of the tenants / namespaces column families.
std::string tenant_id_key(TenantId t);
std::string tenant_name_key(std::string_view name);
std::string tenant_kek_key(TenantId t);         // tenants: the tenant's wrapped KEK
std::string export_key(std::string_view path);   // system: NFS export options
std::string node_key(uint64_t id);                // system: a cluster node's record
std::string secret_key(std::string_view name);   // system: a cluster-wide secret (kInitSecret)
std::string ns_id_key(NamespaceId n);
std::string ns_name_key(TenantId t, std::string_view name);
// tenants: a user of a tenant, 'U' · tenant · name → record (created_ns i64).
std::string user_key(TenantId t, std::string_view name);
// An access key record: tenant u64, its bit 63 set for a user's key and then
// the user's name (str), then the tenant-sealed secret.
constexpr uint64_t kUserKeyBit = 1ull << 63;
struct AccessKeyRecord {
  TenantId tenant = 0;
  std::string user;  // "" for the tenant's own (root) keys
  std::string_view sealed;
};
bool decode_key_record(std::string_view v, AccessKeyRecord* r);
std::string encode_key_record(TenantId tenant, std::string_view user, std::string_view sealed);

// A namespace's configuration item (ADR 0011): 'C' · ns id · item → document.
std::string ns_config_key(NamespaceId n, std::string_view item);
// Deletes every configuration item of namespace `n`.
Status drop_ns_config(meta::Txn& txn, NamespaceId n);
// A namespace name is global, like an S3 bucket name: 'B' · name → tenant · ns id.
std::string bucket_name_key(std::string_view name);
constexpr std::string_view kBucketIndexDone = "bucket_index";  // system: kIndexBuckets ran
// Drops the global name entry if `owner` holds it.
Status drop_bucket_name(meta::Txn& txn, std::string_view name, TenantId owner);
// Deletes the access keys of `tenant`'s user `user`, or (nullopt) all the
// tenant's keys, its users' too, and its users.
Status drop_access_keys(meta::Txn& txn, TenantId tenant, std::optional<std::string_view> user);
// Namespace record value: tenant · name · root inode · blob.
struct NamespaceRecord {
  NamespaceId id = 0;
  TenantId tenant = 0;
  std::string name;
  std::string blob;
};
std::string encode_ns_record(const NamespaceRecord& r);
Status decode_ns_record(std::string_view v, NamespaceRecord* r);
std::string upload_key(NamespaceId ns, std::string_view upload_id);
std::string part_key(NamespaceId ns, std::string_view upload_id, uint32_t part);

}  // namespace kiseki::ns
