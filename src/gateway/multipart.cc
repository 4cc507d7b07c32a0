// Gateway multipart uploads. Records live in the `multipart` column family:
//   ns · upload id           → tenant_seal(upload record)
//   ns · upload id · 0 · part → seq u64 · tenant_seal(part record)
// Parts hold chunk references of their own until the upload completes (the
// object takes them over in the same record) or aborts (they are dropped).
#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"
#include "gateway/local_gateway.h"
#include "gateway/object_util.h"
#include "common/kill_point.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Inode;
using ns::Op;

namespace {

constexpr uint8_t kUploadFormat = 1;
constexpr uint8_t kPartFormat = 1;
constexpr uint64_t kMinPartBytes = 5u << 20;

struct UploadRecord {
  std::string key;
  ObjectMeta meta;
  int64_t initiated_ns = 0;
};

struct PartRecord {
  uint64_t seq = 0;  // changes whenever the part is replaced
  PartInfo info;
  std::vector<Extent> extents;
};

std::string upload_aad(NamespaceId ns, std::string_view id) {
  return "kiseki-upload" + std::to_string(ns) + "/" + std::string(id);
}
std::string part_aad(NamespaceId ns, std::string_view id, uint32_t part) {
  return upload_aad(ns, id) + "#" + std::to_string(part);
}

bool valid_upload_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char ch : id)
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return false;
  return true;
}

Status seal_upload(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id, const UploadRecord& r,
                   std::string* out) {
  std::string plain;
  Encoder e(&plain);
  e.u8(kUploadFormat).str(r.key).str(r.meta.content_type).i64(r.initiated_ns);
  encode_string_map(e, r.meta.headers);
  encode_string_map(e, r.meta.user_meta);
  // Optional tail: the object lock the completed object gets.
  if (r.meta.lock.any())
    e.u8(static_cast<uint8_t>(r.meta.lock.mode)).i64(r.meta.lock.retain_until_ns).u8(r.meta.lock.legal_hold);
  return crypto::tenant_seal(kek, as_bytes(upload_aad(ns, id)), as_bytes(plain), out);
}

Status open_upload(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id, std::string_view sealed,
                   UploadRecord* r) {
  std::string plain;
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(upload_aad(ns, id)), as_bytes(sealed), &plain));
  Decoder d(plain);
  if (d.u8() != kUploadFormat) return corruption("upload record: unknown format");
  r->key = std::string(d.str());
  r->meta.content_type = std::string(d.str());
  r->initiated_ns = d.i64();
  if (!decode_string_map(d, &r->meta.headers) || !decode_string_map(d, &r->meta.user_meta))
    return corruption("upload record: truncated");
  if (!d.done()) {
    uint8_t mode = d.u8();
    if (mode > static_cast<uint8_t>(ns::LockMode::kCompliance)) return corruption("upload record: bad lock mode");
    r->meta.lock.mode = static_cast<ns::LockMode>(mode);
    r->meta.lock.retain_until_ns = d.i64();
    r->meta.lock.legal_hold = d.u8() != 0;
  }
  if (!d.ok() || !d.done()) return corruption("upload record: truncated");
  return Status::ok();
}

Status seal_part(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id, const PartRecord& p,
                 std::string* out) {
  std::string plain;
  Encoder e(&plain);
  e.u8(kPartFormat).str(p.info.etag).u64(p.info.size).i64(p.info.mtime_ns);
  encode_extents(e, p.extents);
  if (!p.info.checksums.empty()) encode_string_map(e, p.info.checksums);  // absent in older records
  return crypto::tenant_seal(kek, as_bytes(part_aad(ns, id, p.info.number)), as_bytes(plain), out);
}

Status open_part(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id, uint32_t number,
                 std::string_view value, PartRecord* p) {
  if (value.size() < 8) return corruption("part record: truncated");
  p->seq = get_be64(reinterpret_cast<const uint8_t*>(value.data()));
  std::string plain;
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(part_aad(ns, id, number)), as_bytes(value.substr(8)), &plain));
  Decoder d(plain);
  if (d.u8() != kPartFormat) return corruption("part record: unknown format");
  p->info.number = number;
  p->info.etag = std::string(d.str());
  p->info.size = d.u64();
  p->info.mtime_ns = d.i64();
  if (!decode_extents(d, &p->extents)) return corruption("part record: truncated");
  if (!d.done() && (!decode_string_map(d, &p->info.checksums) || !d.done())) return corruption("part record: truncated");
  return Status::ok();
}

Status load_parts(const meta::Store& store, const crypto::SecretKey& kek, NamespaceId ns,
                  std::string_view upload_id, std::vector<PartRecord>* parts) {
  std::string prefix = ns::upload_key(ns, upload_id);
  auto it = store.iterator(Cf::kMultipart);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 5) continue;  // the upload record itself
    uint32_t number = get_be32(reinterpret_cast<const uint8_t*>(it->key().data() + prefix.size() + 1));
    PartRecord p;
    KISEKI_TRY(open_part(kek, ns, upload_id, number, it->value().ToStringView(), &p));
    parts->push_back(std::move(p));
  }
  return Status::ok();
}

Status load_upload(const meta::Store& store, const crypto::SecretKey& kek, NamespaceId ns,
                   std::string_view upload_id, UploadRecord* r) {
  if (!valid_upload_id(upload_id)) return not_found("no such upload");
  std::string v;
  Status st = store.get(Cf::kMultipart, ns::upload_key(ns, upload_id), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no such upload");
  KISEKI_TRY(st);
  return open_upload(kek, ns, upload_id, v, r);
}

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

Result<std::string> LocalGateway::create_upload(NsRef ns, std::string_view key, const ObjectMeta& meta) {
  KISEKI_TRY(validate_key(key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Inode root;
  KISEKI_TRY(load_inode(ns, ns::kRootInode, &root));
  uint8_t rnd[16];
  crypto::random_bytes(rnd);
  std::string id = to_hex(rnd);
  Delta d;
  d.op = Op::kPutUpload;
  d.ns = ns.ns;
  d.name = id;
  KISEKI_TRY(seal_upload(kek, ns.ns, id, {std::string(key), meta, now()}, &d.blob));
  KISEKI_TRY(submit({d}).status());
  return id;
}

Result<PartInfo> LocalGateway::upload_part(NsRef ns, std::string_view upload_id, uint32_t part,
                                           const ByteSource& body, const std::map<std::string, std::string>* checksums,
                                           const std::optional<std::array<uint8_t, 16>>& content_md5) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  if (part < 1 || part > kMaxPartNumber) return invalid_argument("part number must be 1..10000");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  UploadRecord ur;
  KISEKI_TRY(load_upload(store_of(ns.ns), kek, ns.ns, upload_id, &ur));
  // Parts are never inline: the completed object is one extent list.
  KISEKI_ASSIGN_OR_RETURN(PreparedData data, prepare_stream(ns.tenant, body, true, false));
  if (content_md5 && *content_md5 != data.md5()) return bad_digest();  // nothing written yet
  PartRecord pr;
  pr.info = {part, md5_hex(data.md5()), data.size, now(), checksums ? *checksums : std::map<std::string, std::string>{}};
  pr.extents = data.extents;
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Delta d;
    d.op = Op::kPutPart;
    d.ns = ns.ns;
    d.name = std::string(upload_id);
    d.a = part;
    std::string old;
    if (store_of(ns.ns).get(Cf::kMultipart, ns::part_key(ns.ns, upload_id, part), &old).is_ok()) {
      PartRecord replaced;
      KISEKI_TRY(open_part(kek, ns.ns, upload_id, part, old, &replaced));
      d.version = replaced.seq;
      add_unrefs(replaced.extents, &d);
    }
    KISEKI_TRY(seal_part(kek, ns.ns, upload_id, pr, &d.blob));
    add_refs(data.extents, data.prepared, &d);
    Status st = submit({d}).status();
    if (st.is_ok()) KISEKI_KILL_POINT("multipart.after_part");
    if (st.is_ok()) return pr.info;
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "upload part kept conflicting with concurrent changes");
}

Result<std::vector<PartInfo>> LocalGateway::list_parts(NsRef ns, std::string_view upload_id) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  UploadRecord ur;
  KISEKI_TRY(load_upload(store_of(ns.ns), kek, ns.ns, upload_id, &ur));
  std::vector<PartRecord> parts;
  KISEKI_TRY(load_parts(store_of(ns.ns), kek, ns.ns, upload_id, &parts));
  std::vector<PartInfo> out;
  for (auto& p : parts) out.push_back(p.info);
  return out;
}

Result<std::vector<UploadInfo>> LocalGateway::list_uploads(NsRef ns, std::string_view prefix) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  std::vector<UploadInfo> out;
  std::string nsprefix = meta::key_u64(ns.ns);
  auto it = store_of(ns.ns).iterator(Cf::kMultipart);
  for (it->Seek(nsprefix); it->Valid() && it->key().starts_with(nsprefix); it->Next()) {
    if (it->key().size() != nsprefix.size() + 32) continue;  // a part record
    std::string id(it->key().ToStringView().substr(nsprefix.size()));
    UploadRecord r;
    KISEKI_TRY(open_upload(kek, ns.ns, id, it->value().ToStringView(), &r));
    if (r.key.compare(0, prefix.size(), prefix) == 0) out.push_back({id, r.key, r.initiated_ns});
  }
  std::sort(out.begin(), out.end(), [](const UploadInfo& a, const UploadInfo& b) {
    return std::tie(a.key, a.initiated_ns) < std::tie(b.key, b.initiated_ns);
  });
  return out;
}

Result<ObjectInfo> LocalGateway::complete_upload(NsRef ns, std::string_view upload_id,
                                                 const std::vector<std::pair<uint32_t, std::string>>& parts,
                                                 const CompleteHook& hook) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  if (parts.empty()) return invalid_argument("MalformedXML: no parts");
  for (size_t k = 1; k < parts.size(); ++k)
    if (parts[k].first <= parts[k - 1].first) return invalid_argument("InvalidPartOrder: part numbers must ascend");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    UploadRecord ur;
    KISEKI_TRY(load_upload(store_of(ns.ns), kek, ns.ns, upload_id, &ur));
    std::vector<PartRecord> stored;
    KISEKI_TRY(load_parts(store_of(ns.ns), kek, ns.ns, upload_id, &stored));
    std::map<uint32_t, const PartRecord*> by_number;
    for (const auto& p : stored) by_number[p.info.number] = &p;
    Content c;
    c.content_type = ur.meta.content_type;
    c.headers = ur.meta.headers;
    c.user_meta = ur.meta.user_meta;
    std::string md5s;
    uint64_t size = 0;
    std::vector<PartInfo> chosen;
    for (size_t k = 0; k < parts.size(); ++k) {
      auto it = by_number.find(parts[k].first);
      if (it == by_number.end() || it->second->info.etag != unquote(parts[k].second))
        return invalid_argument("InvalidPart: part " + std::to_string(parts[k].first) + " not found or ETag differs");
      const PartRecord& p = *it->second;
      if (k + 1 < parts.size() && p.info.size < kMinPartBytes)
        return invalid_argument("EntityTooSmall: every part but the last must be at least 5 MiB");
      Bytes bin;
      from_hex(p.info.etag, &bin);
      md5s.append(reinterpret_cast<const char*>(bin.data()), bin.size());
      for (auto x : p.extents) {
        x.file_offset += size;
        c.extents.push_back(x);
      }
      size += p.info.size;
      c.part_sizes.push_back(p.info.size);
      chosen.push_back(p.info);
    }
    if (hook) {
      ObjectMeta m{c.content_type, c.headers, c.user_meta};
      KISEKI_TRY(hook(chosen, &m));
      c.content_type = std::move(m.content_type);
      c.headers = std::move(m.headers);
      c.user_meta = std::move(m.user_meta);
    }
    c.etag = md5_hex(crypto::md5(as_bytes(md5s))) + "-" + std::to_string(parts.size());
    Delta put = object_delta(ns, ur.key, size);
    put.inode.lock = ur.meta.lock;
    std::vector<Delta> record;
    Versioning v;
    KISEKI_TRY(replace_target(ns, ur.key, kek, &put, &c, &record, &v).status());
    KISEKI_TRY(seal_content(kek, ns.ns, c, &put.inode.content));
    add_refs(c.extents, {}, &put);
    // The same record drops the upload and every part's references, so the chunks
    // the object now holds change owner atomically.
    Delta drop;
    drop.op = Op::kDeleteUpload;
    drop.ns = ns.ns;
    drop.name = std::string(upload_id);
    for (const auto& p : stored) add_unrefs(p.extents, &drop);
    KISEKI_KILL_POINT("multipart.complete.before_commit");
    record.insert(record.begin(), put);
    record.push_back(drop);
    auto out = submit(std::move(record));
    if (out) {
      KISEKI_KILL_POINT("multipart.complete.after_commit");
      Inode i;
      i.size = size;
      i.attr.mtime_ns = put.time_ns;
      i.lock = put.inode.lock;
      return written(object_info(ur.key, i, c), v);
    }
    if (out.code() != ErrorCode::kConflict) return out.status();
  }
  return make_error(ErrorCode::kConflict, "complete kept conflicting with concurrent changes");
}

Status LocalGateway::abort_upload(NsRef ns, std::string_view upload_id) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    UploadRecord ur;
    KISEKI_TRY(load_upload(store_of(ns.ns), kek, ns.ns, upload_id, &ur));
    std::vector<PartRecord> stored;
    KISEKI_TRY(load_parts(store_of(ns.ns), kek, ns.ns, upload_id, &stored));
    Delta d;
    d.op = Op::kDeleteUpload;
    d.ns = ns.ns;
    d.name = std::string(upload_id);
    for (const auto& p : stored) add_unrefs(p.extents, &d);
    Status st = submit({d}).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "abort kept conflicting with concurrent changes");
}

}  // namespace kiseki::gateway

namespace kiseki::gateway {

Status multipart_part_extents(const crypto::SecretKey& kek, NamespaceId ns, std::string_view key,
                              std::string_view value, std::vector<Extent>* extents) {
  // Part keys: ns · upload id (32) · 0 · part number; the upload record's key is shorter.
  if (key.size() != 8 + 32 + 5) return Status::ok();
  std::string_view upload_id = key.substr(8, 32);
  uint32_t number = get_be32(reinterpret_cast<const uint8_t*>(key.data() + 8 + 32 + 1));
  PartRecord p;
  KISEKI_TRY(open_part(kek, ns, upload_id, number, value, &p));
  extents->insert(extents->end(), p.extents.begin(), p.extents.end());
  return Status::ok();
}

}  // namespace kiseki::gateway
