#include "namespace/delta.h"

namespace kiseki::ns {

static constexpr uint8_t kRecordFormat = 2;

std::string encode_record(const std::vector<Delta>& deltas, const RequestId& req) {
  std::string v;
  Encoder e(&v);
  e.u8(kRecordFormat).u64(req.client).u64(req.seq).u32(static_cast<uint32_t>(deltas.size()));
  for (const auto& d : deltas) {
    e.u8(static_cast<uint8_t>(d.op)).u32(d.flags).u64(d.ns).u64(d.a).u64(d.parent).u64(d.parent2);
    e.u64(d.ino).u64(d.version).i64(d.time_ns).str(d.name).str(d.name2).str(d.blob);
    e.str(encode_inode(d.inode));
    e.u32(static_cast<uint32_t>(d.refs.size()));
    for (const auto& r : d.refs) {
      // Bit 0: fresh; bit 1: the chunk's redundancy follows (3 bytes).
      e.raw(r.id.view()).u8((r.fresh ? 1 : 0) | (r.form ? 2 : 0));
      if (r.form) e.raw(r.form->encode());
    }
    e.u32(static_cast<uint32_t>(d.unrefs.size()));
    for (const auto& u : d.unrefs) e.raw(u.view());
  }
  return v;
}

uint8_t first_op(std::string_view record) {
  // format u8 · client u64 · seq u64 · count u32 · the first delta's op u8
  constexpr size_t kAt = 1 + 8 + 8 + 4;
  if (record.size() <= kAt || static_cast<uint8_t>(record[0]) != kRecordFormat) return 0;
  return static_cast<uint8_t>(record[kAt]);
}

Status decode_record(std::string_view record, std::vector<Delta>* deltas, RequestId* req) {
  Decoder d(record);
  if (d.u8() != kRecordFormat) return corruption("delta record: unknown format");
  RequestId id;
  id.client = d.u64();
  id.seq = d.u64();
  if (req) *req = id;
  uint32_t n = d.u32();
  if (n > record.size()) return corruption("delta record: bad count");
  deltas->resize(n);
  for (auto& x : *deltas) {
    x.op = static_cast<Op>(d.u8());
    x.flags = d.u32();
    x.ns = d.u64();
    x.a = d.u64();
    x.parent = d.u64();
    x.parent2 = d.u64();
    x.ino = d.u64();
    x.version = d.u64();
    x.time_ns = d.i64();
    x.name = std::string(d.str());
    x.name2 = std::string(d.str());
    x.blob = std::string(d.str());
    std::string_view inode = d.str();
    if (!d.ok()) break;
    KISEKI_TRY(decode_inode(inode, &x.inode));
    uint32_t nrefs = d.u32();
    if (nrefs > d.remaining()) return corruption("delta record: bad ref count");
    x.refs.resize(nrefs);
    for (auto& r : x.refs) {
      ChunkId::from_view(d.raw(32), &r.id);
      uint8_t bits = d.u8();
      r.fresh = (bits & 1) != 0;
      if (bits & 2) {
        auto form = Redundancy::decode(d.raw(3));
        if (!form) return corruption("delta record: bad chunk redundancy");
        r.form = *form;
      }
    }
    uint32_t nun = d.u32();
    if (nun > d.remaining()) return corruption("delta record: bad unref count");
    x.unrefs.resize(nun);
    for (auto& u : x.unrefs) ChunkId::from_view(d.raw(32), &u);
  }
  if (!d.ok() || !d.done()) return corruption("delta record: truncated");
  return Status::ok();
}

}  // namespace kiseki::ns
