#include "gateway/content.h"

#include "common/bytes.h"
#include "crypto/chunk_cipher.h"

namespace kiseki::gateway {

static constexpr uint8_t kContentFormat = 1;

void encode_extents(Encoder& e, const std::vector<Extent>& extents) {
  e.u32(static_cast<uint32_t>(extents.size()));
  for (const auto& x : extents) e.u64(x.file_offset).u32(x.length).raw(x.chunk.view()).u32(x.chunk_offset);
}

bool decode_extents(Decoder& d, std::vector<Extent>* extents) {
  uint32_t n = d.u32();
  if (n > d.remaining() / 48) return false;
  extents->resize(n);
  for (auto& x : *extents) {
    x.file_offset = d.u64();
    x.length = d.u32();
    ChunkId::from_view(d.raw(32), &x.chunk);
    x.chunk_offset = d.u32();
  }
  return d.ok();
}

void encode_string_map(Encoder& e, const std::map<std::string, std::string>& m) {
  e.u32(static_cast<uint32_t>(m.size()));
  for (const auto& [k, v] : m) e.str(k).str(v);
}

bool decode_string_map(Decoder& d, std::map<std::string, std::string>* m) {
  m->clear();
  uint32_t n = d.u32();
  for (uint32_t i = 0; i < n && d.ok(); ++i) {
    std::string key(d.str());
    (*m)[key] = std::string(d.str());
  }
  return d.ok();
}

std::string encode_content(const Content& c) {
  std::string v;
  Encoder e(&v);
  e.u8(kContentFormat).str(c.inline_data);
  encode_extents(e, c.extents);
  e.str(c.symlink_target).str(c.etag).str(c.content_type);
  encode_string_map(e, c.headers);
  encode_string_map(e, c.user_meta);
  // Optional tail (records written before it have none): the part sizes,
  // then the version id.
  if (!c.part_sizes.empty() || !c.version_id.empty()) {
    e.u32(static_cast<uint32_t>(c.part_sizes.size()));
    for (uint64_t n : c.part_sizes) e.u64(n);
  }
  if (!c.version_id.empty()) e.str(c.version_id);
  return v;
}

Status decode_content(std::string_view v, Content* c) {
  Decoder d(v);
  if (d.u8() != kContentFormat) return corruption("content record: unknown format");
  c->inline_data = std::string(d.str());
  if (!decode_extents(d, &c->extents)) return corruption("content record: bad extents");
  c->symlink_target = std::string(d.str());
  c->etag = std::string(d.str());
  c->content_type = std::string(d.str());
  if (!decode_string_map(d, &c->headers) || !decode_string_map(d, &c->user_meta))
    return corruption("content record: truncated");
  c->part_sizes.clear();
  if (!d.done()) {
    uint32_t n = d.u32();
    if (!d.ok() || n > 10000) return corruption("content record: bad part list");
    for (uint32_t k = 0; k < n; ++k) c->part_sizes.push_back(d.u64());
  }
  c->version_id.clear();
  if (d.ok() && !d.done()) c->version_id = std::string(d.str());
  if (!d.ok() || !d.done()) return corruption("content record: truncated");
  return Status::ok();
}

static std::string content_aad(NamespaceId ns) { return "kiseki-content" + std::to_string(ns); }

Status seal_content(const crypto::SecretKey& kek, NamespaceId ns, const Content& c, std::string* out) {
  std::string plain = encode_content(c);
  Status st = crypto::tenant_seal(kek, as_bytes(content_aad(ns)), as_bytes(plain), out);
  secure_zero(plain.data(), plain.size());
  return st;
}

Status open_content(const crypto::SecretKey& kek, NamespaceId ns, std::string_view sealed, Content* c) {
  if (sealed.empty()) {
    *c = Content{};
    return Status::ok();
  }
  std::string plain;
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(content_aad(ns)), as_bytes(sealed), &plain));
  return decode_content(plain, c);
}

void splice_extents(std::vector<Extent>* extents, uint64_t off, uint64_t len,
                    const std::vector<Extent>& incoming) {
  uint64_t end = off + len;
  std::vector<Extent> out;
  out.reserve(extents->size() + incoming.size() + 1);
  bool inserted = false;
  for (const auto& x : *extents) {
    if (x.end() <= off) { out.push_back(x); continue; }
    if (x.file_offset >= end) {
      if (!inserted) { out.insert(out.end(), incoming.begin(), incoming.end()); inserted = true; }
      out.push_back(x);
      continue;
    }
    if (x.file_offset < off) {  // keep the head
      Extent head = x;
      head.length = static_cast<uint32_t>(off - x.file_offset);
      out.push_back(head);
    }
    if (!inserted) { out.insert(out.end(), incoming.begin(), incoming.end()); inserted = true; }
    if (x.end() > end) {  // keep the tail
      Extent tail = x;
      uint64_t cut = end - x.file_offset;
      tail.file_offset = end;
      tail.chunk_offset = static_cast<uint32_t>(x.chunk_offset + cut);
      tail.length = static_cast<uint32_t>(x.length - cut);
      out.push_back(tail);
    }
  }
  if (!inserted) out.insert(out.end(), incoming.begin(), incoming.end());
  *extents = std::move(out);
}

void truncate_extents(std::vector<Extent>* extents, uint64_t size) {
  std::vector<Extent> out;
  for (auto x : *extents) {
    if (x.file_offset >= size) continue;
    if (x.end() > size) x.length = static_cast<uint32_t>(size - x.file_offset);
    out.push_back(x);
  }
  *extents = std::move(out);
}

void diff_refs(const std::vector<Extent>& before, const std::vector<Extent>& after,
               std::map<ChunkId, int>* delta) {
  for (const auto& x : before) --(*delta)[x.chunk];
  for (const auto& x : after) ++(*delta)[x.chunk];
  for (auto it = delta->begin(); it != delta->end();) it = it->second == 0 ? delta->erase(it) : std::next(it);
}

}  // namespace kiseki::gateway
