#include "chunk/index.h"

namespace kiseki::chunk {

using meta::Cf;

std::string encode_entry(const IndexEntry& e) {
  std::string v;
  Encoder(&v).u64(e.loc.segment).u64(e.loc.offset).u32(e.loc.length).u64(e.refs);
  return v;
}

bool decode_entry(std::string_view v, IndexEntry* e) {
  Decoder d(v);
  e->loc.segment = d.u64();
  e->loc.offset = d.u64();
  e->loc.length = d.u32();
  e->refs = d.u64();
  return d.ok() && d.done();
}

Result<IndexEntry> lookup(const meta::Store& store, const ChunkId& id) {
  std::string v;
  KISEKI_TRY(store.get(Cf::kChunks, id.view(), &v));
  IndexEntry e;
  if (!decode_entry(v, &e)) return corruption("chunk index entry " + id.hex());
  return e;
}

static void add_live(meta::Txn& txn, SegmentId seg, int64_t delta) {
  std::string key = meta::key_u64(seg), v;
  int64_t live = 0;
  if (txn.get(Cf::kSegments, key, &v).is_ok() && v.size() == 8)
    live = static_cast<int64_t>(get_be64(reinterpret_cast<const uint8_t*>(v.data())));
  live += delta;
  if (live <= 0) txn.del(Cf::kSegments, key);
  else txn.put(Cf::kSegments, key, meta::key_u64(static_cast<uint64_t>(live)));
}

Status apply_ref(meta::Txn& txn, const ChunkId& id, const std::optional<Location>& written) {
  std::string v;
  IndexEntry e;
  if (txn.get(Cf::kChunks, id.view(), &v).is_ok()) {
    if (!decode_entry(v, &e)) return corruption("chunk index entry " + id.hex());
    ++e.refs;
  } else if (written) {
    e.loc = *written;
    e.refs = 1;
    add_live(txn, e.loc.segment, static_cast<int64_t>(e.loc.record_size()));
  } else {
    return make_error(ErrorCode::kConflict, "chunk " + id.hex() + " vanished before its reference committed");
  }
  txn.put(Cf::kChunks, id.view(), encode_entry(e));
  return Status::ok();
}

Status apply_unref(meta::Txn& txn, const ChunkId& id) {
  std::string v;
  IndexEntry e;
  if (!txn.get(Cf::kChunks, id.view(), &v).is_ok()) return corruption("unref of unknown chunk " + id.hex());
  if (!decode_entry(v, &e)) return corruption("chunk index entry " + id.hex());
  if (--e.refs == 0) {
    txn.del(Cf::kChunks, id.view());
    add_live(txn, e.loc.segment, -static_cast<int64_t>(e.loc.record_size()));
  } else {
    txn.put(Cf::kChunks, id.view(), encode_entry(e));
  }
  return Status::ok();
}

Status apply_move(meta::Txn& txn, const ChunkId& id, const Location& from, const Location& to) {
  std::string v;
  IndexEntry e;
  if (!txn.get(Cf::kChunks, id.view(), &v).is_ok()) return Status::ok();  // died meanwhile
  if (!decode_entry(v, &e)) return corruption("chunk index entry " + id.hex());
  if (e.loc.segment != from.segment || e.loc.offset != from.offset) return Status::ok();
  add_live(txn, from.segment, -static_cast<int64_t>(from.record_size()));
  add_live(txn, to.segment, static_cast<int64_t>(to.record_size()));
  e.loc = to;
  txn.put(Cf::kChunks, id.view(), encode_entry(e));
  return Status::ok();
}

uint64_t segment_live_bytes(const meta::Store& store, SegmentId seg) {
  std::string v;
  if (!store.get(Cf::kSegments, meta::key_u64(seg), &v).is_ok() || v.size() != 8) return 0;
  return get_be64(reinterpret_cast<const uint8_t*>(v.data()));
}

}  // namespace kiseki::chunk
