#include "chunk/refs.h"

namespace kiseki::chunk {

using meta::Cf;

static Status decode_count(std::string_view v, const ChunkId& id, uint64_t* n) {
  if (v.size() != 8) return corruption("chunk reference count " + id.hex());
  *n = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
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

Status apply_ref(meta::Txn& txn, const ChunkId& id, bool fresh) {
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
  txn.put(Cf::kChunkRefs, id.view(), meta::key_u64(n + 1));
  return Status::ok();
}

Status apply_unref(meta::Txn& txn, const ChunkId& id) {
  std::string v;
  Status st = txn.get(Cf::kChunkRefs, id.view(), &v);
  if (st.code() == ErrorCode::kNotFound) return corruption("unref of unreferenced chunk " + id.hex());
  KISEKI_TRY(st);
  uint64_t n = 0;
  KISEKI_TRY(decode_count(v, id, &n));
  if (n <= 1) txn.del(Cf::kChunkRefs, id.view());
  else txn.put(Cf::kChunkRefs, id.view(), meta::key_u64(n - 1));
  return Status::ok();
}

}  // namespace kiseki::chunk
