// A tenant's users and the access keys of the tenant and its users (records in
// ns::state_machine.h: 'U' · tenant · name, and the access key record).
#include "gateway/local_gateway.h"
#include "namespace/delta.h"
#include "namespace/state_machine.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Op;

Result<std::vector<AccessKey>> LocalGateway::list_access_keys(TenantId tenant) const {
  KISEKI_ASSIGN_OR_RETURN(TenantInfo t, get_tenant(tenant));
  (void)t;
  std::vector<AccessKey> keys;
  auto it = meta_->iterator(Cf::kAccessKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ns::AccessKeyRecord r;
    if (ns::decode_key_record(it->value().ToStringView(), &r) && r.tenant == tenant)
      keys.push_back({std::string(it->key().ToStringView()), "", tenant, r.user});
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan access keys"));
  return keys;
}

// ---- users: 'U' · tenant · name → created_ns

Status validate_user_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("+=,.@_-").find(c) != std::string_view::npos);
  return ok ? Status::ok() : invalid_argument("a user name is 1..64 of A-Z a-z 0-9 + = , . @ _ -");
}

Status LocalGateway::create_user(TenantId tenant, std::string_view name) {
  KISEKI_TRY(validate_user_name(name));
  KISEKI_ASSIGN_OR_RETURN(TenantInfo t, get_tenant(tenant));
  if (t.shredded) return make_error(ErrorCode::kCryptoShredded, "tenant was crypto-shredded");
  Delta d;
  d.op = Op::kPutUser;
  d.a = tenant;
  d.name = std::string(name);
  d.flags = ns::kExclusive;
  Encoder(&d.blob).i64(now());
  return submit({d}).status();
}

Result<std::vector<UserInfo>> LocalGateway::list_users(TenantId tenant) const {
  KISEKI_ASSIGN_OR_RETURN(TenantInfo t, get_tenant(tenant));
  (void)t;
  (void)log_->read_barrier();
  std::vector<UserInfo> out;
  std::string prefix = ns::user_key(tenant, "");
  auto it = meta_->iterator(Cf::kTenants);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Decoder d(it->value().ToStringView());
    out.push_back({std::string(it->key().ToStringView().substr(prefix.size())), d.i64()});
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan users"));
  return out;
}

Status LocalGateway::delete_user(TenantId tenant, std::string_view name) {
  KISEKI_TRY(log_->read_barrier());
  Delta d;
  d.op = Op::kDeleteUser;
  d.a = tenant;
  d.name = std::string(name);
  Status st = submit({d}).status();
  // Its keys went in the same apply; this node's cache of them goes too (another
  // node's as it applies the record).
  forget_user_keys(tenant, name);
  return st;
}

}  // namespace kiseki::gateway
