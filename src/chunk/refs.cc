#include "chunk/refs.h"

namespace kiseki::chunk {

using meta::Cf;

// A count is u64 · [3 bytes: the chunk's redundancy in a cluster].
static Status decode_count(std::string_view v, const ChunkId& id, uint64_t* n) {
  if (v.size() != 8 && v.size() != 11) return corruption("chunk reference count " + id.hex());
  *n = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
  return Status::ok();
}

std::string ledger_prefix(TenantId owner) { return std::string(8, '\xff') + meta::key_u64(owner); }
bool is_ledger_key(std::string_view key) { return key.size() == 48 && key.starts_with(std::string(8, '\xff')); }
static std::string ledger_key(TenantId owner, const ChunkId& id) { return ledger_prefix(owner).append(id.view()); }

// Adds `delta` to the count under `key` (a chunk's or a ledger entry's).
static Status add_count(meta::Txn& txn, std::string_view key, const ChunkId& id, int64_t delta) {
  std::string v;
  uint64_t n = 0;
  Status st = txn.get(Cf::kChunkRefs, key, &v);
  if (st.is_ok()) KISEKI_TRY(decode_count(v, id, &n));
  else if (st.code() != ErrorCode::kNotFound) return st;
  if (delta < 0 && n < static_cast<uint64_t>(-delta)) return corruption("unref of unreferenced chunk " + id.hex());
  n += static_cast<uint64_t>(delta);
  if (n == 0) txn.del(Cf::kChunkRefs, key);
  else txn.put(Cf::kChunkRefs, key, meta::key_u64(n).append(v.size() > 8 ? std::string_view(v).substr(8) : ""));
  return Status::ok();
}

Result<uint64_t> ref_count(const meta::Store& store, const ChunkId& id) {
  std::string v;
  Status st = store.get(Cf::kChunkRefs, id.view(), &v);
  if (st.code() == ErrorCode::kNotFound) return uint64_t{0};
  KISEKI_TRY(st);
  uint64_t n = 0;
  KISEKI_TRY(decode_count(v, id, &n));
  return n;
}

Result<std::optional<Redundancy>> ref_form(const meta::Store& store, const ChunkId& id) {
  std::string v;
  Status st = store.get(Cf::kChunkRefs, id.view(), &v);
  if (st.code() == ErrorCode::kNotFound) return std::optional<Redundancy>();
  KISEKI_TRY(st);
  uint64_t n = 0;
  KISEKI_TRY(decode_count(v, id, &n));
  if (v.size() == 8) return std::optional<Redundancy>();
  KISEKI_ASSIGN_OR_RETURN(Redundancy r, Redundancy::decode(std::string_view(v).substr(8)));
  return std::optional<Redundancy>(r);
}

Result<std::optional<Redundancy>> decode_ref_form(std::string_view value) {
  if (value.size() == 8) return std::optional<Redundancy>();
  if (value.size() != 11) return corruption("chunk reference count: bad length");
  KISEKI_ASSIGN_OR_RETURN(Redundancy r, Redundancy::decode(value.substr(8)));
  return std::optional<Redundancy>(r);
}

Status apply_ref(meta::Txn& txn, const ChunkId& id, bool fresh, TenantId owner, std::optional<Redundancy> form) {
  std::string v;
  uint64_t n = 0;
  Status st = txn.get(Cf::kChunkRefs, id.view(), &v);
  if (st.is_ok()) {
    KISEKI_TRY(decode_count(v, id, &n));
  } else if (st.code() != ErrorCode::kNotFound) {
    return st;
  } else if (!fresh) {
    return make_error(ErrorCode::kConflict, "chunk " + id.hex() + " lost its last reference before this one committed");
  }
  // The first reference says how the chunk is kept; later ones keep that.
  std::string value = meta::key_u64(n + 1);
  if (n > 0 && v.size() > 8) value.append(std::string_view(v).substr(8));
  else if (n == 0 && form) value.append(form->encode());
  txn.put(Cf::kChunkRefs, id.view(), value);
  if (domain_of(id) == kSharedDomain) KISEKI_TRY(add_count(txn, ledger_key(owner, id), id, 1));
  return Status::ok();
}

Status apply_unref(meta::Txn& txn, const ChunkId& id, TenantId owner) {
  KISEKI_TRY(add_count(txn, id.view(), id, -1));
  if (domain_of(id) == kSharedDomain) KISEKI_TRY(add_count(txn, ledger_key(owner, id), id, -1));
  return Status::ok();
}

Result<uint64_t> apply_purge_ledger(meta::Txn& txn, TenantId owner, uint64_t limit) {
  std::string prefix = ledger_prefix(owner);
  std::vector<std::pair<std::string, std::string>> entries;
  auto it = txn.iterator(Cf::kChunkRefs);
  for (it->Seek(prefix); entries.size() < limit && it->Valid() && it->key().starts_with(prefix); it->Next())
    entries.emplace_back(it->key().ToString(), it->value().ToString());
  KISEKI_TRY(meta::from_rocks(it->status(), "scan reference ledger"));
  for (const auto& [key, value] : entries) {
    ChunkId id;
    ChunkId::from_view(std::string_view(key).substr(prefix.size()), &id);
    uint64_t n = 0;
    KISEKI_TRY(decode_count(value, id, &n));
    KISEKI_TRY(add_count(txn, id.view(), id, -static_cast<int64_t>(n)));
    txn.del(Cf::kChunkRefs, key);
  }
  return entries.size();
}

}  // namespace kiseki::chunk
