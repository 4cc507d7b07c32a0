// The namespace state machine: applies delta records to the metadata store. The
// one piece of apply code for the local log and for every Raft replica.
#pragma once

#include "log/delta_log.h"
#include "namespace/delta.h"

namespace kiseki::ns {

class StateMachine final : public log::StateMachine {
 public:
  Status apply(std::string_view record, meta::Txn& txn, std::string* out) override;

 private:
  Status apply_one(const Delta& d, meta::Txn& txn, std::string* out);
};

// Keys of the tenants / namespaces column families.
std::string tenant_id_key(TenantId t);
std::string tenant_name_key(std::string_view name);
std::string ns_id_key(NamespaceId n);
std::string ns_name_key(TenantId t, std::string_view name);
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
