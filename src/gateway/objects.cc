// Gateway object operations: S3 semantics where a key is a path.
#include <openssl/evp.h>

#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"
#include "gateway/gateway.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Inode;
using ns::Op;

namespace {

constexpr int kMaxRetries = 16;

std::string md5_hex(const uint8_t* d) { return to_hex({d, 16}); }

class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
  ~Md5() { EVP_MD_CTX_free(ctx_); }
  void update(ByteSpan b) { EVP_DigestUpdate(ctx_, b.data(), b.size()); }
  std::array<uint8_t, 16> finish() {
    std::array<uint8_t, 16> d;
    EVP_DigestFinal_ex(ctx_, d.data(), nullptr);
    return d;
  }

 private:
  EVP_MD_CTX* ctx_;
};

void add_refs(const std::vector<Extent>& extents, const std::vector<chunk::PreparedChunk>& prepared,
              Delta* d) {
  std::map<ChunkId, chunk::Location> written;
  for (const auto& p : prepared)
    if (p.written) written.emplace(p.id, *p.written);
  for (const auto& x : extents) {
    ns::ChunkRef r{x.chunk, std::nullopt};
    if (auto w = written.find(x.chunk); w != written.end()) {
      r.written = w->second;
      written.erase(w);  // only the first reference carries the new copy
    }
    d->refs.push_back(r);
  }
}

void add_unrefs(const std::vector<Extent>& extents, Delta* d) {
  for (const auto& x : extents) d->unrefs.push_back(x.chunk);
}

}  // namespace

struct Gateway::PreparedData {
  std::string inline_data;
  std::vector<Extent> extents;
  std::vector<chunk::PreparedChunk> prepared;
  uint64_t size = 0;
  std::array<uint8_t, 16> md5{};
};

Status validate_key(std::string_view key) {
  if (key.empty()) return invalid_argument("empty key");
  if (key.size() > kMaxKeyBytes) return make_error(ErrorCode::kNameTooLong, "key longer than 1024 bytes");
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) slash = key.size();
    Status st = ns::validate_name(key.substr(start, slash - start));
    if (!st.is_ok()) return make_error(st.code(), "key cannot be a path: " + st.message());
    start = slash + 1;
  }
  return Status::ok();
}

Result<Gateway::PreparedData> Gateway::prepare_stream(TenantId tenant, const ByteSource& body,
                                                      bool want_md5, bool allow_inline) {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(tenant));
  crypto::SecretKey dedup = crypto::derive_dedup_key(kek);
  PreparedData out;
  Md5 md5;
  size_t cap = 2 * static_cast<size_t>(chunker_->max_size());
  Bytes buf(cap);
  size_t have = 0;
  bool eof = false;
  bool first_fill = true;
  while (!eof || have > 0) {
    while (!eof && have < cap) {
      KISEKI_ASSIGN_OR_RETURN(size_t n, body({buf.data() + have, cap - have}));
      if (n == 0) eof = true;
      have += n;
    }
    if (allow_inline && first_fill && eof && have <= opts_.inline_threshold) {
      // Small objects live in the inode record: no chunk, no segment write.
      out.inline_data.assign(reinterpret_cast<char*>(buf.data()), have);
      if (want_md5) md5.update({buf.data(), have});
      out.size = have;
      have = 0;
      break;
    }
    first_fill = false;
    size_t pos = 0;
    for (;;) {
      ByteSpan rest(buf.data() + pos, have - pos);
      if (rest.empty()) break;
      size_t cut = chunker_->next_cut(rest, eof);
      if (cut == 0) break;
      ByteSpan piece = rest.subspan(0, cut);
      if (want_md5) md5.update(piece);
      ChunkId id = crypto::compute_chunk_id(dedup, piece);
      KISEKI_ASSIGN_OR_RETURN(chunk::PreparedChunk pc, chunks_->prepare(id, piece));
      out.extents.push_back({out.size, static_cast<uint32_t>(cut), id, 0});
      out.prepared.push_back(pc);
      out.size += cut;
      pos += cut;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
  }
  if (want_md5) out.md5 = md5.finish();
  // Write order: chunk bytes are durable before any delta references them.
  KISEKI_TRY(chunks_->sync(out.prepared));
  return out;
}

Result<InodeId> Gateway::resolve_key(NsRef ns, std::string_view key, Inode* inode) const {
  KISEKI_TRY(validate_key(key));
  InodeId cur = ns::kRootInode;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view comp = key.substr(start, slash == std::string_view::npos ? key.size() - start : slash - start);
    std::string v;
    Status st = meta_->get(Cf::kDentries, meta::dentry_key(ns.ns, cur, comp), &v);
    if (st.code() == ErrorCode::kNotFound) return not_found("no such key");
    KISEKI_TRY(st);
    ns::Dentry de;
    KISEKI_TRY(ns::decode_dentry(v, &de));
    if (slash == std::string_view::npos) {
      if (de.type != FileType::kFile) return not_found("no such key");
      KISEKI_TRY(load_inode(ns, de.ino, inode));
      return de.ino;
    }
    if (de.type != FileType::kDirectory) return not_found("no such key");
    cur = de.ino;
    start = slash + 1;
  }
}

ObjectInfo Gateway::object_info(std::string_view key, const Inode& inode, const Content& c) const {
  ObjectInfo info;
  info.key = std::string(key);
  info.size = inode.size;
  info.etag = c.etag;
  info.mtime_ns = inode.attr.mtime_ns;
  info.meta.content_type = c.content_type;
  info.meta.headers = c.headers;
  info.meta.user_meta = c.user_meta;
  return info;
}

Result<ObjectInfo> Gateway::put_object(NsRef ns, std::string_view key, const ByteSource& body,
                                       const ObjectMeta& meta, const PutConditions& cond) {
  KISEKI_TRY(validate_key(key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_ASSIGN_OR_RETURN(PreparedData data, prepare_stream(ns.tenant, body, true, true));
  Content c;
  c.inline_data = std::move(data.inline_data);
  c.extents = data.extents;
  c.etag = md5_hex(data.md5.data());
  c.content_type = meta.content_type;
  c.headers = meta.headers;
  c.user_meta = meta.user_meta;
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Delta d;
    d.op = Op::kPutObject;
    d.ns = ns.ns;
    d.name = std::string(key);
    d.time_ns = now();
    d.inode.attr = {0644, 0, 0, d.time_ns, d.time_ns, d.time_ns};
    d.inode.btime_ns = d.time_ns;
    d.inode.size = data.size;
    if (cond.if_none_match_star) d.flags |= ns::kMustNotExist;
    Inode cur;
    auto found = resolve_key(ns, key, &cur);
    if (found) {
      Content old;
      KISEKI_TRY(open_content(kek, ns.ns, cur.content, &old));
      if (cond.if_none_match_star) return make_error(ErrorCode::kPreconditionFailed, "object exists");
      if (cond.if_match && *cond.if_match != old.etag && *cond.if_match != "*")
        return make_error(ErrorCode::kPreconditionFailed, "ETag does not match");
      d.version = cur.version;
      if (cur.nlink <= 1) add_unrefs(old.extents, &d);
    } else if (found.code() != ErrorCode::kNotFound) {
      return found.status();
    } else if (cond.if_match) {
      return make_error(ErrorCode::kPreconditionFailed, "object does not exist");
    }
    KISEKI_TRY(seal_content(kek, ns.ns, c, &d.inode.content));
    add_refs(c.extents, attempt == 0 ? data.prepared : std::vector<chunk::PreparedChunk>{}, &d);
    auto out = submit({d});
    if (out) {
      Inode i;
      i.size = data.size;
      i.attr.mtime_ns = d.time_ns;
      return object_info(key, i, c);
    }
    if (out.code() != ErrorCode::kConflict || out.status().message().find("key") != std::string::npos)
      return out.status();
    // A version race: retry. New copies were referenced by the failed attempt's
    // refs only, which rolled back, so the next attempt must carry them again.
    data.prepared.clear();
    for (auto& x : c.extents) {
      if (chunk::lookup(*meta_, x.chunk)) continue;
      return make_error(ErrorCode::kUnavailable, "a deduplicated chunk was removed concurrently; retry");
    }
  }
  return make_error(ErrorCode::kConflict, "put kept conflicting with concurrent changes");
}

Result<ObjectInfo> Gateway::head_object(NsRef ns, std::string_view key) const {
  Inode i;
  KISEKI_TRY(resolve_key(ns, key, &i).status());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Content c;
  KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
  return object_info(key, i, c);
}

Result<Bytes> Gateway::get_object(NsRef ns, std::string_view key, const ByteRange& range,
                                  ObjectInfo* info) const {
  Inode i;
  KISEKI_TRY(resolve_key(ns, key, &i).status());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Content c;
  KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
  if (info) *info = object_info(key, i, c);
  if (range.offset > i.size || (range.offset == i.size && i.size > 0))
    return invalid_argument("range starts beyond the end of the object");
  uint64_t len = range.length ? *range.length : i.size - range.offset;
  Bytes out;
  KISEKI_TRY(read_range(ns.tenant, c, i.size, range.offset, len, &out));
  return out;
}

Status Gateway::delete_object(NsRef ns, std::string_view key) {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Inode i;
    KISEKI_TRY(resolve_key(ns, key, &i).status());
    Delta d;
    d.op = Op::kDeleteObject;
    d.ns = ns.ns;
    d.name = std::string(key);
    d.ino = i.ino;
    d.version = i.version;
    d.time_ns = now();
    if (i.nlink <= 1) {
      Content c;
      KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
      add_unrefs(c.extents, &d);
    }
    Status st = submit({d}).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "delete kept conflicting with concurrent changes");
}

Result<ObjectInfo> Gateway::copy_object(NsRef src, std::string_view src_key, NsRef dst,
                                        std::string_view dst_key, const std::optional<ObjectMeta>& meta) {
  if (src.tenant != dst.tenant) return make_error(ErrorCode::kPermissionDenied, "copy across tenants");
  KISEKI_TRY(validate_key(dst_key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(src.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Inode si;
    KISEKI_TRY(resolve_key(src, src_key, &si).status());
    Content c;
    KISEKI_TRY(open_content(kek, src.ns, si.content, &c));
    if (meta) {
      c.content_type = meta->content_type;
      c.headers = meta->headers;
      c.user_meta = meta->user_meta;
    }
    // Same tenant, same dedup domain: the copy shares the source's chunks.
    Delta d;
    d.op = Op::kPutObject;
    d.ns = dst.ns;
    d.name = std::string(dst_key);
    d.time_ns = now();
    d.inode.attr = {0644, 0, 0, d.time_ns, d.time_ns, d.time_ns};
    d.inode.btime_ns = d.time_ns;
    d.inode.size = si.size;
    Inode cur;
    auto found = resolve_key(dst, dst_key, &cur);
    if (found) {
      Content old;
      KISEKI_TRY(open_content(kek, dst.ns, cur.content, &old));
      d.version = cur.version;
      if (cur.nlink <= 1) add_unrefs(old.extents, &d);
    } else if (found.code() != ErrorCode::kNotFound) {
      return found.status();
    }
    KISEKI_TRY(seal_content(kek, dst.ns, c, &d.inode.content));
    add_refs(c.extents, {}, &d);
    auto out = submit({d});
    if (out) {
      Inode i = si;
      i.attr.mtime_ns = d.time_ns;
      return object_info(dst_key, i, c);
    }
    if (out.code() != ErrorCode::kConflict || out.status().message().find("key") != std::string::npos)
      return out.status();
  }
  return make_error(ErrorCode::kConflict, "copy kept conflicting with concurrent changes");
}

// ---- multipart uploads
// upload record: tenant_seal(key · content type · headers · user meta · initiated)
// part record:   seq(8) · tenant_seal(etag · size · mtime · extents)

static std::string upload_aad(NamespaceId ns, std::string_view id) {
  return "kiseki-upload" + std::to_string(ns) + "/" + std::string(id);
}

struct UploadRecord {
  std::string key;
  ObjectMeta meta;
  int64_t initiated_ns = 0;
};

static Status open_upload(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id,
                          std::string_view sealed, UploadRecord* r) {
  std::string plain;
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(upload_aad(ns, id)), as_bytes(sealed), &plain));
  Content c;
  KISEKI_TRY(decode_content(plain, &c));
  r->key = c.symlink_target;  // the content codec carries the upload's key in this slot
  r->meta = {c.content_type, c.headers, c.user_meta};
  r->initiated_ns = static_cast<int64_t>(std::stoll(c.etag.empty() ? "0" : c.etag));
  return Status::ok();
}

Result<std::string> Gateway::create_upload(NsRef ns, std::string_view key, const ObjectMeta& meta) {
  KISEKI_TRY(validate_key(key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  uint8_t rnd[16];
  crypto::random_bytes(rnd);
  std::string id = to_hex(rnd);
  Content c;
  c.symlink_target = std::string(key);
  c.etag = std::to_string(now());
  c.content_type = meta.content_type;
  c.headers = meta.headers;
  c.user_meta = meta.user_meta;
  std::string plain = encode_content(c);
  Delta d;
  d.op = Op::kPutUpload;
  d.ns = ns.ns;
  d.name = id;
  KISEKI_TRY(crypto::tenant_seal(kek, as_bytes(upload_aad(ns.ns, id)), as_bytes(plain), &d.blob));
  KISEKI_TRY(submit({d}).status());
  return id;
}

struct PartRecord {
  uint64_t seq = 0;
  PartInfo info;
  std::vector<Extent> extents;
  std::string inline_data;
};

static Status open_part(const crypto::SecretKey& kek, NamespaceId ns, std::string_view id, uint32_t number,
                        std::string_view v, PartRecord* p) {
  if (v.size() < 8) return corruption("part record");
  p->seq = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
  std::string plain;
  KISEKI_TRY(crypto::tenant_open(kek, as_bytes(upload_aad(ns, id) + "#" + std::to_string(number)),
                                 as_bytes(v.substr(8)), &plain));
  Content c;
  KISEKI_TRY(decode_content(plain, &c));
  p->info.number = number;
  p->info.etag = c.etag;
  p->extents = c.extents;
  p->inline_data = c.inline_data;
  p->info.size = std::stoull(c.content_type.empty() ? "0" : c.content_type);
  p->info.mtime_ns = std::stoll(c.symlink_target.empty() ? "0" : c.symlink_target);
  return Status::ok();
}

static std::string check_upload_id(std::string_view id) {
  if (id.size() != 32) return {};
  for (char ch : id)
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return {};
  return std::string(id);
}

Result<PartInfo> Gateway::upload_part(NsRef ns, std::string_view upload_id, uint32_t part,
                                      const ByteSource& body) {
  if (part < 1 || part > kMaxPartNumber) return invalid_argument("part number must be 1..10000");
  if (check_upload_id(upload_id).empty()) return not_found("no such upload");
  std::string rec;
  if (!meta_->get(Cf::kMultipart, ns::upload_key(ns.ns, upload_id), &rec).is_ok()) return not_found("no such upload");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_ASSIGN_OR_RETURN(PreparedData data, prepare_stream(ns.tenant, body, true, false));
  PartRecord pr;
  pr.info.number = part;
  pr.info.etag = md5_hex(data.md5.data());
  pr.info.size = data.size;
  pr.info.mtime_ns = now();
  Content c;
  c.etag = pr.info.etag;
  c.extents = data.extents;
  c.inline_data = data.inline_data;
  c.content_type = std::to_string(data.size);
  c.symlink_target = std::to_string(pr.info.mtime_ns);
  std::string plain = encode_content(c);
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Delta d;
    d.op = Op::kPutPart;
    d.ns = ns.ns;
    d.name = std::string(upload_id);
    d.a = part;
    std::string old;
    if (meta_->get(Cf::kMultipart, ns::part_key(ns.ns, upload_id, part), &old).is_ok()) {
      PartRecord op;
      KISEKI_TRY(open_part(kek, ns.ns, upload_id, part, old, &op));
      d.version = op.seq;
      add_unrefs(op.extents, &d);
    }
    KISEKI_TRY(crypto::tenant_seal(kek, as_bytes(upload_aad(ns.ns, upload_id) + "#" + std::to_string(part)),
                                   as_bytes(plain), &d.blob));
    add_refs(data.extents, data.prepared, &d);
    Status st = submit({d}).status();
    if (st.is_ok()) return pr.info;
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "upload part kept conflicting");
}

static Status load_parts(const meta::Store& store, const crypto::SecretKey& kek, NamespaceId ns,
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

Result<std::vector<PartInfo>> Gateway::list_parts(NsRef ns, std::string_view upload_id) const {
  std::string rec;
  if (check_upload_id(upload_id).empty() ||
      !meta_->get(Cf::kMultipart, ns::upload_key(ns.ns, upload_id), &rec).is_ok())
    return not_found("no such upload");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  std::vector<PartRecord> parts;
  KISEKI_TRY(load_parts(*meta_, kek, ns.ns, upload_id, &parts));
  std::vector<PartInfo> out;
  for (auto& p : parts) out.push_back(p.info);
  return out;
}

Result<std::vector<UploadInfo>> Gateway::list_uploads(NsRef ns, std::string_view prefix) const {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  std::vector<UploadInfo> out;
  std::string nsprefix = meta::key_u64(ns.ns);
  auto it = meta_->iterator(Cf::kMultipart);
  for (it->Seek(nsprefix); it->Valid() && it->key().starts_with(nsprefix); it->Next()) {
    if (it->key().size() != nsprefix.size() + 32) continue;
    std::string id(it->key().ToStringView().substr(8));
    UploadRecord r;
    KISEKI_TRY(open_upload(kek, ns.ns, id, it->value().ToStringView(), &r));
    if (r.key.compare(0, prefix.size(), prefix) != 0) continue;
    out.push_back({id, r.key, r.initiated_ns});
  }
  std::sort(out.begin(), out.end(), [](const UploadInfo& a, const UploadInfo& b) {
    return std::tie(a.key, a.initiated_ns) < std::tie(b.key, b.initiated_ns);
  });
  return out;
}

Result<ObjectInfo> Gateway::complete_upload(NsRef ns, std::string_view upload_id,
                                            const std::vector<std::pair<uint32_t, std::string>>& parts) {
  if (parts.empty()) return invalid_argument("MalformedXML: no parts");
  for (size_t k = 1; k < parts.size(); ++k)
    if (parts[k].first <= parts[k - 1].first) return invalid_argument("InvalidPartOrder: part numbers must ascend");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    std::string rec;
    if (check_upload_id(upload_id).empty() ||
        !meta_->get(Cf::kMultipart, ns::upload_key(ns.ns, upload_id), &rec).is_ok())
      return not_found("no such upload");
    UploadRecord ur;
    KISEKI_TRY(open_upload(kek, ns.ns, upload_id, rec, &ur));
    std::vector<PartRecord> stored;
    KISEKI_TRY(load_parts(*meta_, kek, ns.ns, upload_id, &stored));
    std::map<uint32_t, const PartRecord*> by_number;
    for (const auto& p : stored) by_number[p.info.number] = &p;
    Content c;
    c.content_type = ur.meta.content_type;
    c.headers = ur.meta.headers;
    c.user_meta = ur.meta.user_meta;
    std::string md5s;
    uint64_t size = 0;
      for (size_t k = 0; k < parts.size(); ++k) {
      auto it = by_number.find(parts[k].first);
      std::string want = parts[k].second;
      if (want.size() >= 2 && want.front() == '"') want = want.substr(1, want.size() - 2);
      if (it == by_number.end() || it->second->info.etag != want)
        return invalid_argument("InvalidPart: part " + std::to_string(parts[k].first) + " not found or ETag differs");
      const PartRecord& p = *it->second;
      if (k + 1 < parts.size() && p.info.size < (5u << 20))
        return invalid_argument("EntityTooSmall: every part but the last must be at least 5 MiB");
      Bytes bin;
      from_hex(p.info.etag, &bin);
      md5s.append(reinterpret_cast<const char*>(bin.data()), bin.size());
      for (auto x : p.extents) {
        x.file_offset += size;
        c.extents.push_back(x);
      }
      size += p.info.size;
    }
    auto digest = crypto::md5(as_bytes(md5s));
    c.etag = md5_hex(digest.data()) + "-" + std::to_string(parts.size());
    Delta put;
    put.op = Op::kPutObject;
    put.ns = ns.ns;
    put.name = ur.key;
    put.time_ns = now();
    put.inode.attr = {0644, 0, 0, put.time_ns, put.time_ns, put.time_ns};
    put.inode.btime_ns = put.time_ns;
    put.inode.size = size;
    Inode cur;
    auto found = resolve_key(ns, ur.key, &cur);
    if (found) {
      Content old;
      KISEKI_TRY(open_content(kek, ns.ns, cur.content, &old));
      put.version = cur.version;
      if (cur.nlink <= 1) add_unrefs(old.extents, &put);
    } else if (found.code() != ErrorCode::kNotFound) {
      return found.status();
    }
    KISEKI_TRY(seal_content(kek, ns.ns, c, &put.inode.content));
    add_refs(c.extents, {}, &put);
    // The same record drops the upload and every part's references, so the
    // chunks the object now holds change owner atomically.
    Delta drop;
    drop.op = Op::kDeleteUpload;
    drop.ns = ns.ns;
    drop.name = std::string(upload_id);
    for (const auto& p : stored) add_unrefs(p.extents, &drop);
    auto out = submit({put, drop});
    if (out) {
      Inode i;
      i.size = size;
      i.attr.mtime_ns = put.time_ns;
      return object_info(ur.key, i, c);
    }
    if (out.code() != ErrorCode::kConflict || out.status().message().find("key") != std::string::npos)
      return out.status();
  }
  return make_error(ErrorCode::kConflict, "complete kept conflicting with concurrent changes");
}

Status Gateway::abort_upload(NsRef ns, std::string_view upload_id) {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    if (check_upload_id(upload_id).empty()) return not_found("no such upload");
    std::vector<PartRecord> stored;
    KISEKI_TRY(load_parts(*meta_, kek, ns.ns, upload_id, &stored));
    Delta d;
    d.op = Op::kDeleteUpload;
    d.ns = ns.ns;
    d.name = std::string(upload_id);
    for (const auto& p : stored) add_unrefs(p.extents, &d);
    Status st = submit({d}).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "abort kept conflicting");
}

}  // namespace kiseki::gateway
