// Gateway object operations: S3 semantics where a key is a path.

#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"
#include "gateway/local_gateway.h"
#include "gateway/object_util.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Inode;
using ns::Op;

bool is_folder_key(std::string_view key) { return key.size() > 1 && key.back() == '/'; }

Status validate_key(std::string_view key) {
  if (key.empty()) return invalid_argument("empty key");
  if (key.size() > kMaxKeyBytes) return make_error(ErrorCode::kNameTooLong, "key longer than 1024 bytes");
  if (is_folder_key(key)) key.remove_suffix(1);
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) slash = key.size();
    std::string_view comp = key.substr(start, slash - start);
    Status st = ns::validate_name(comp, ns::kMaxKeyComponentBytes);
    if (!st.is_ok()) return make_error(st.code(), "key cannot be a path: " + st.message());
    // The file API shows a directory's object under this name (ADR 0013).
    if (comp == ns::kObjectEntryName) return invalid_argument("a key component may not be '.kiseki-object'");
    start = slash + 1;
  }
  return Status::ok();
}

const std::array<uint8_t, 16>& LocalGateway::PreparedData::md5() {
  if (!md5_sum_) {
    md5_sum_ = md5_.finish();
    held_.reset();
  }
  return *md5_sum_;
}

Result<LocalGateway::PreparedData> LocalGateway::prepare_stream(TenantId tenant, const ByteSource& body,
                                                      bool want_md5, bool allow_inline) {
  KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(tenant));
  PreparedData out;
  size_t cap = 2 * static_cast<size_t>(chunker_->max_size());
  // Reused: a fresh zeroed buffer per put costs a 512 KiB memset. A body whose
  // MD5 is still queued holds the thread's buffer: then this one takes another.
  thread_local std::shared_ptr<Bytes> held;
  if (!held || held.use_count() > 1) held = std::make_shared<Bytes>();
  Bytes& buf = *held;
  if (buf.size() < cap) buf.resize(cap);
  size_t have = 0;
  size_t hashed = 0;  // the bytes at the front of buf already in the MD5
  bool eof = false;
  bool first_fill = true;
  while (!eof || have > 0) {
    while (!eof && have < cap) {
      KISEKI_ASSIGN_OR_RETURN(size_t n, body({buf.data() + have, cap - have}));
      if (n == 0) eof = true;
      have += n;
    }
    // What a fill brought is hashed in one run: one hand-over to the shared
    // MD5 (crypto/md5.h) per fill, not one per chunk. The last fill stays in
    // the buffer: its run is only queued, for a round after the chunks' sync.
    if (want_md5 && eof) {
      out.md5_.update_deferred({buf.data() + hashed, have - hashed});
      out.held_ = held;
    } else if (want_md5) {
      out.md5_.update({buf.data() + hashed, have - hashed});
    }
    hashed = have;
    if (allow_inline && first_fill && eof && have <= opts_.inline_threshold) {
      // Small objects live in the inode record: no chunk, no segment write.
      out.inline_data.assign(reinterpret_cast<char*>(buf.data()), have);
      out.size = have;
      have = 0;
      break;
    }
    // A whole body no longer than the average chunk is one chunk: no
    // content-defined cut is looked for (ADR 0014).
    const bool whole = first_fill && eof && have <= opts_.object_chunking.avg_size;
    first_fill = false;
    size_t pos = 0;
    for (;;) {
      ByteSpan rest(buf.data() + pos, have - pos);
      if (rest.empty()) break;
      size_t cut = whole ? rest.size() : chunker_->next_cut(rest, eof);
      if (cut == 0) break;
      ByteSpan piece = rest.subspan(0, cut);
      ChunkId id = crypto::compute_chunk_id(domain, piece);
      KISEKI_ASSIGN_OR_RETURN(chunk::PreparedChunk pc, chunks_->prepare(domain, id, piece));
      out.extents.push_back({out.size, static_cast<uint32_t>(cut), id, 0});
      out.prepared.push_back(pc);
      out.size += cut;
      pos += cut;
    }
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    hashed = have;  // what is left was hashed with its fill
  }
  // submit makes these chunks durable before any delta that references them
  // does (write order).
  return out;
}

Result<InodeId> LocalGateway::resolve_key(NsRef ns, std::string_view key, Inode* inode) const {
  KISEKI_TRY(validate_key(key));
  bool folder = is_folder_key(key);
  if (folder) key.remove_suffix(1);
  InodeId cur = ns::kRootInode;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view comp = key.substr(start, slash == std::string_view::npos ? key.size() - start : slash - start);
    std::string v;
    Status st = store_of(ns.ns).get(Cf::kDentries, meta::dentry_key(ns.ns, cur, comp), &v);
    if (st.code() == ErrorCode::kNotFound) return not_found("no such key");
    KISEKI_TRY(st);
    ns::Dentry de;
    KISEKI_TRY(ns::decode_dentry(v, &de));
    if (slash == std::string_view::npos) {
      if (folder && de.type != FileType::kDirectory) return not_found("no such key");
      if (!folder && de.type != FileType::kFile && de.type != FileType::kDirectory) return not_found("no such key");
      KISEKI_TRY(load_inode(ns, de.ino, inode));
      if (folder && (inode->flags & ns::kImplicitDir)) return not_found("no such key");
      if (folder && inode->carries_object()) {  // the folder marker, not the object it carries
        inode->flags &= ~ns::kDirObject;
        inode->content.clear();
        inode->size = 0;
        inode->lock = {};
      }
      // A directory is the key's object only if it carries one (ADR 0013).
      if (!folder && !inode->has_object()) return not_found("no such key");
      return de.ino;
    }
    if (de.type != FileType::kDirectory) return not_found("no such key");
    cur = de.ino;
    start = slash + 1;
  }
}

ObjectInfo written(ObjectInfo info, Versioning v) {
  if (v != Versioning::kOff && info.version_id.empty()) info.version_id = kNullVersion;
  return info;
}

ObjectInfo LocalGateway::object_info(std::string_view key, const Inode& inode, const Content& c) const {
  ObjectInfo info;
  info.key = std::string(key);
  const bool object = inode.has_object() && !is_folder_key(key);  // not a folder marker
  info.size = object ? inode.size : 0;
  info.etag = object ? c.etag : std::string(kEmptyEtag);
  info.mtime_ns = object ? inode.object_mtime() : inode.attr.mtime_ns;
  info.meta.content_type = c.content_type;
  info.meta.headers = c.headers;
  info.meta.user_meta = c.user_meta;
  info.meta.lock = inode.lock;
  if (object) info.part_sizes = c.part_sizes;
  info.version_id = c.version_id;
  return info;
}

Delta LocalGateway::object_delta(NsRef ns, std::string_view key, uint64_t size) const {
  Delta d;
  d.op = Op::kPutObject;
  d.ns = ns.ns;
  d.name = std::string(key);
  d.time_ns = now();
  d.inode.attr = {0644, 0, 0, d.time_ns, d.time_ns, d.time_ns};
  d.inode.btime_ns = d.time_ns;
  d.inode.size = size;
  return d;
}

Result<std::optional<Content>> LocalGateway::replace_target(NsRef ns, std::string_view key,
                                                       const crypto::SecretKey& kek, Delta* d, Content* next,
                                                       std::vector<Delta>* also, Versioning* state) const {
  Versioning v = Versioning::kOff;
  if (next) {
    KISEKI_ASSIGN_OR_RETURN(v, versioning_of(ns));
  }
  if (state) *state = v;
  Inode cur;
  auto found = resolve_key(ns, key, &cur);
  if (!found) {
    if (found.code() != ErrorCode::kNotFound) return found.status();
    if (next) next->version_id = "";
    if (v == Versioning::kEnabled) {
      KISEKI_ASSIGN_OR_RETURN(VersionTimes times, version_times(ns, key, nullptr, nullptr));
      next->version_id = new_version_id(times.next(d->time_ns));
    }
    // A new null object replaces the null version kept earlier.
    if (v == Versioning::kSuspended) KISEKI_TRY(drop_kept_null(ns, key, kek, also));
    return std::optional<Content>();
  }
  Content old;
  KISEKI_TRY(open_content(kek, ns.ns, cur.content, &old));
  d->version = cur.version;
  VersionTimes times;
  if (v != Versioning::kOff) {
    KISEKI_ASSIGN_OR_RETURN(times, version_times(ns, key, &cur, &old));
  }
  if (next) next->version_id = v == Versioning::kEnabled ? new_version_id(times.next(d->time_ns)) : "";
  if (v == Versioning::kEnabled || (v == Versioning::kSuspended && !old.version_id.empty())) {
    keep_current(key, old, times.current, d);  // its layout and references become a version's
  } else {
    // The put replaces the inode's layout for every link to it: its chunks go.
    add_unrefs(old.extents, d);
  }
  // One null version per key: a null one written or kept replaces an older one.
  if (v == Versioning::kSuspended || (v == Versioning::kEnabled && old.version_id.empty()))
    KISEKI_TRY(drop_kept_null(ns, key, kek, also));
  return std::optional<Content>(std::move(old));
}

// A folder marker: key "a/b/" with an empty body is the explicit directory a/b.
Result<ObjectInfo> LocalGateway::put_folder(NsRef ns, std::string_view key, const ByteSource& body,
                                            const PutConditions& cond) {
  uint8_t probe[1];
  KISEKI_ASSIGN_OR_RETURN(size_t n, body({probe, 1}));
  if (n != 0) return invalid_argument("a key ending in '/' is a folder and takes no data");
  if (cond.content_md5 && *cond.content_md5 != crypto::md5({})) return bad_digest();
  KISEKI_TRY(tenant_key(ns.tenant).status());
  Delta d;
  d.op = Op::kPutObject;
  d.flags = ns::kFolder;
  d.ns = ns.ns;
  d.name = std::string(key.substr(0, key.size() - 1));
  d.time_ns = now();
  d.inode.attr = {0755, 0, 0, d.time_ns, d.time_ns, d.time_ns};
  KISEKI_TRY(submit({d}).status());
  ObjectInfo info;
  info.key = std::string(key);
  info.etag = kEmptyEtag;
  info.mtime_ns = d.time_ns;
  return info;
}

Result<ObjectInfo> LocalGateway::put_object(NsRef ns, std::string_view key, const ByteSource& body,
                                       const ObjectMeta& meta, const PutConditions& cond) {
  KISEKI_TRY(validate_key(key));
  if (is_folder_key(key)) return put_folder(ns, key, body, cond);
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_ASSIGN_OR_RETURN(PreparedData data, prepare_stream(ns.tenant, body, true, true));
  Content c;
  c.inline_data = std::move(data.inline_data);
  c.extents = data.extents;
  c.content_type = meta.content_type;
  c.headers = meta.headers;
  c.user_meta = meta.user_meta;
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    // A plain PUT reads the object it replaces optimistically (apply checks
    // its version; a conflict reads again after a read barrier). Conditions
    // are decided here, on state read after one.
    if (attempt > 0 || cond.if_match || cond.if_none_match_star) KISEKI_TRY(log_of(ns.ns).read_barrier());
    Delta d = object_delta(ns, key, data.size);
    d.inode.lock = meta.lock;
    if (cond.if_none_match_star) d.flags |= ns::kMustNotExist;
    std::vector<Delta> record;
    Versioning v;
    KISEKI_ASSIGN_OR_RETURN(std::optional<Content> old, replace_target(ns, key, kek, &d, &c, &record, &v));
    if (old && cond.if_none_match_star) return make_error(ErrorCode::kPreconditionFailed, "object exists");
    if (old && cond.if_match && *cond.if_match != old->etag && *cond.if_match != "*")
      return make_error(ErrorCode::kPreconditionFailed, "ETag does not match");
    if (!old && cond.if_match) return make_error(ErrorCode::kPreconditionFailed, "object does not exist");
    add_refs(c.extents, data.prepared, &d);
    int64_t t = d.time_ns;
    record.insert(record.begin(), std::move(d));
    // The ETag, and the content sealed with it, are filled in when the log
    // takes the record, after its chunks' sync: the body's MD5 was only
    // queued, and the PUTs of a group are hashed together then. A mismatch
    // with Content-MD5 fails the record before it applies; its chunks,
    // unreferenced, go with their pins.
    auto finish = [&](std::vector<Delta>* r) -> Status {
      if (cond.content_md5 && *cond.content_md5 != data.md5()) return bad_digest();
      c.etag = md5_hex(data.md5());
      return seal_content(kek, ns.ns, c, &r->front().inode.content);
    };
    auto out = submit(std::move(record), true, {}, std::nullopt, finish);
    if (out) {
      Inode i;
      i.size = data.size;
      i.attr.mtime_ns = t;
      i.lock = meta.lock;
      return written(object_info(key, i, c), v);
    }
    if (out.code() != ErrorCode::kConflict) return out.status();
    // A version race: retry. The chunks stay pinned, so the references stay fresh.
  }
  return make_error(ErrorCode::kConflict, "put kept conflicting with concurrent changes");
}

Result<ObjectInfo> LocalGateway::head_object(NsRef ns, std::string_view key) const {
  KISEKI_ASSIGN_OR_RETURN(ObjectHandle h, open_object(ns, key));
  return std::move(h.info);
}

Result<Bytes> LocalGateway::get_object(NsRef ns, std::string_view key, const ByteRange& range,
                                  ObjectInfo* info) const {
  KISEKI_ASSIGN_OR_RETURN(ObjectHandle h, open_object(ns, key));
  if (info) *info = h.info;
  const uint64_t size = h.info.size;
  if (range.offset > size || (range.offset == size && size > 0))
    return invalid_argument("range starts beyond the end of the object");
  uint64_t len = range.length ? *range.length : size - range.offset;
  Bytes out;
  KISEKI_TRY(read_object(h, range.offset, len, &out));
  return out;
}

Result<ObjectHandle> LocalGateway::open_object(NsRef ns, std::string_view key) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  if (auto hot = opened_.get(ns, key)) return std::move(*hot);
  const uint64_t gen = meta::Store::generation();  // what follows reads at least this state
  Inode i;
  KISEKI_TRY(resolve_key(ns, key, &i).status());
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  auto c = std::make_shared<Content>();
  KISEKI_TRY(open_content(kek, ns.ns, i.content, c.get()));
  ObjectHandle h;
  h.info = object_info(key, i, *c);
  h.tenant = ns.tenant;
  h.content = std::move(c);
  opened_.put(ns, key, gen, h);
  return h;
}

Status LocalGateway::read_object(const ObjectHandle& h, uint64_t offset, uint64_t length, Bytes* out) const {
  // The tenant must not be shredded: its open handles stop reading.
  KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(h.tenant));
  return read_range(domain, *h.content, h.info.size, offset, length, out);
}

Status LocalGateway::read_object_pinned(const ObjectHandle& h, uint64_t offset, uint64_t length,
                                        PinnedBytes* out, size_t max_slices) const {
  out->release();
  KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(h.tenant));
  return pin_range(domain, *h.content, h.info.size, offset, length, max_slices, out);
}

Status LocalGateway::delete_object(NsRef ns, std::string_view key, const DeleteConditions& cond,
                                   DeletedObject* out) {
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_ASSIGN_OR_RETURN(Versioning v, versioning_of(ns));
  if (v != Versioning::kOff && !is_folder_key(key)) {
    KISEKI_ASSIGN_OR_RETURN(DeletedObject made, delete_versioned(ns, key, kek, v, cond));
    if (out) *out = std::move(made);
    return Status::ok();
  }
  if (out) *out = {v == Versioning::kOff ? "" : std::string(kNullVersion), false};
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    // Optimistic as a PUT; an object not found here is looked for again after
    // a read barrier (it may have been made on another node a moment ago).
    if (attempt > 0) KISEKI_TRY(log_of(ns.ns).read_barrier());
    Inode i;
    auto found = resolve_key(ns, key, &i);
    if (!found && found.code() == ErrorCode::kNotFound && attempt == 0) continue;
    KISEKI_TRY(found.status());
    Delta d;
    d.op = Op::kDeleteObject;
    d.ns = ns.ns;
    d.name = std::string(key);
    const bool folder = is_folder_key(key);
    if (folder) {
      d.flags = ns::kFolder;
      d.name.pop_back();
    }
    d.ino = i.ino;
    d.version = i.version;
    d.time_ns = now();
    if (cond.if_unmodified_since_ns && i.object_mtime() > *cond.if_unmodified_since_ns)
      return make_error(ErrorCode::kPreconditionFailed, "the object was written since");
    if ((owns_content(i) && !folder) || cond.if_match) {
      Content c;
      KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
      if (cond.if_match && (folder || c.etag != *cond.if_match))
        return make_error(ErrorCode::kPreconditionFailed, "the object's ETag is not the one expected");
      if (owns_content(i) && !folder) add_unrefs(c.extents, &d);
    }
    Status st = submit({d}).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "delete kept conflicting with concurrent changes");
}

Result<ObjectInfo> LocalGateway::copy_object(NsRef src, std::string_view src_key, NsRef dst,
                                        std::string_view dst_key, const std::optional<ObjectMeta>& meta,
                                        std::string_view src_version) {
  if (!meta) return copy_with(src, src_key, src_version, dst, dst_key, nullptr, true);
  return copy_with(src, src_key, src_version, dst, dst_key, [&](ObjectMeta* m) {
    *m = *meta;
    return Status::ok();
  }, true);
}

Result<ObjectInfo> LocalGateway::edit_object_meta(NsRef ns, std::string_view key, const MetaEdit& edit) {
  return copy_with(ns, key, {}, ns, key, edit, false);
}

Result<ObjectInfo> LocalGateway::copy_with(NsRef src, std::string_view src_key, std::string_view src_version,
                                           NsRef dst, std::string_view dst_key, const MetaEdit& edit,
                                           bool new_version) {
  if (src.tenant != dst.tenant) return make_error(ErrorCode::kPermissionDenied, "copy across tenants");
  KISEKI_TRY(validate_key(dst_key));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(src.tenant));
  const bool across = ns::shard_of(src.ns, shard_count()) != ns::shard_of(dst.ns, shard_count());
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KISEKI_TRY(log_of(src.ns).read_barrier());
    if (across) KISEKI_TRY(log_of(dst.ns).read_barrier());
    Inode si;
    Content c;
    ns::ObjectLock lock;  // a copy's is the request's; an edit in place keeps the object's
    if (src_version.empty()) {
      KISEKI_TRY(resolve_key(src, src_key, &si).status());
      KISEKI_TRY(open_content(kek, src.ns, si.content, &c));
    } else {
      KISEKI_ASSIGN_OR_RETURN(ObjectHandle h, open_object_version(src, src_key, src_version));
      if (h.info.delete_marker) return make_error(ErrorCode::kInvalidArgument, "the source version is a delete marker");
      c = *h.content;
      si.size = h.info.size;
    }
    if (!new_version) lock = si.lock;
    if (edit) {
      ObjectMeta m{c.content_type, c.headers, c.user_meta, lock};
      KISEKI_TRY(edit(&m));
      c.content_type = std::move(m.content_type);
      c.headers = std::move(m.headers);
      c.user_meta = std::move(m.user_meta);
      if (new_version) lock = m.lock;
    }
    // Same tenant, same dedup domain: the copy shares the source's chunks.
    Delta d = object_delta(dst, dst_key, si.size);
    d.inode.lock = lock;
    std::vector<Delta> record;
    Versioning v;
    KISEKI_TRY(replace_target(dst, dst_key, kek, &d, new_version ? &c : nullptr, &record, &v).status());
    // An edit in place (new metadata or tags) is of the object as it is now:
    // one replaced since it was read is read again (and edited again), not put back.
    if (!new_version && d.version != si.version) continue;
    KISEKI_TRY(seal_content(kek, dst.ns, c, &d.inode.content));
    // Within a shard the copy's references count on the source's (apply
    // checks they are still there). Into another shard they are fresh: this
    // node holds each chunk pinned (fetching a copy it lacks) as a PUT does.
    std::vector<chunk::PreparedChunk> pinned;
    if (across) {
      KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(src.tenant));
      for (const auto& x : c.extents) {
        auto p = chunks_->pin_existing(x.chunk);
        if (!p && p.code() == ErrorCode::kNotFound) {
          Bytes plain;
          KISEKI_TRY(read_chunk(domain, x.chunk, &plain, true));  // keeps a fetched copy
          p = chunks_->pin_existing(x.chunk);
        }
        if (!p) return p.status();
        pinned.push_back(std::move(*p));
      }
    }
    add_refs(c.extents, pinned, &d);
    Inode i = si;
    i.attr.mtime_ns = d.time_ns;
    i.lock = lock;
    record.insert(record.begin(), std::move(d));
    auto out = submit(std::move(record));
    if (out) return written(object_info(dst_key, i, c), v);
    if (out.code() != ErrorCode::kConflict) return out.status();
  }
  return make_error(ErrorCode::kConflict, "copy kept conflicting with concurrent changes");
}

}  // namespace kiseki::gateway
