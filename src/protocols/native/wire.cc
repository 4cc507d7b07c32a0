#include "protocols/native/wire.h"

namespace kiseki::native {

bool is_mutation(Op op) {
  switch (op) {
    case Op::kSetattr: case Op::kCreate: case Op::kMkdir: case Op::kUnlink: case Op::kRmdir:
    case Op::kRename: case Op::kLink: case Op::kSymlink: case Op::kWrite: case Op::kFsync:
    case Op::kPutObject: case Op::kDeleteObject: case Op::kCreateUpload: case Op::kUploadPart:
    case Op::kCompleteUpload: case Op::kAbortUpload:
      return true;
    default:
      return false;
  }
}

std::string auth_message(std::string_view challenge, std::string_view access_key_id) {
  std::string m;
  m.reserve(kAuthContext.size() + challenge.size() + access_key_id.size());
  m.append(kAuthContext).append(challenge).append(access_key_id);
  return m;
}

void encode_caller(Encoder& e, const gateway::Caller& c) {
  e.u32(c.uid).u32(c.gid).u32(static_cast<uint32_t>(c.groups.size()));
  for (uint32_t g : c.groups) e.u32(g);
  e.u64(c.req.client).u64(c.req.seq);
}

bool decode_caller(Decoder& d, gateway::Caller* c) {
  c->uid = d.u32();
  c->gid = d.u32();
  uint32_t n = d.u32();
  if (n > 64) return false;  // NGROUPS of AUTH_SYS is 16; FUSE gives none
  c->groups.resize(n);
  for (auto& g : c->groups) g = d.u32();
  c->req.client = d.u64();
  c->req.seq = d.u64();
  return d.ok();
}

void encode_attr(Encoder& e, const gateway::FileAttr& a) {
  e.u64(a.ino).u8(static_cast<uint8_t>(a.type)).u32(a.mode).u32(a.uid).u32(a.gid).u32(a.nlink);
  e.u64(a.size).u64(a.generation).u64(a.parent);
  e.i64(a.atime_ns).i64(a.mtime_ns).i64(a.ctime_ns).i64(a.btime_ns);
}

bool decode_attr(Decoder& d, gateway::FileAttr* a) {
  a->ino = d.u64();
  a->type = static_cast<gateway::FileType>(d.u8());
  a->mode = d.u32();
  a->uid = d.u32();
  a->gid = d.u32();
  a->nlink = d.u32();
  a->size = d.u64();
  a->generation = d.u64();
  a->parent = d.u64();
  a->atime_ns = d.i64();
  a->mtime_ns = d.i64();
  a->ctime_ns = d.i64();
  a->btime_ns = d.i64();
  return d.ok();
}

namespace {

// An optional value: u8 present, then the value.
template <typename T>
void put_opt(Encoder& e, const std::optional<T>& v) {
  e.u8(v.has_value());
  if (!v) return;
  if constexpr (sizeof(T) == 4) e.u32(static_cast<uint32_t>(*v));
  else e.u64(static_cast<uint64_t>(*v));
}

template <typename T>
void get_opt(Decoder& d, std::optional<T>* v) {
  if (!d.u8()) return v->reset();
  if constexpr (sizeof(T) == 4) *v = static_cast<T>(d.u32());
  else *v = static_cast<T>(d.u64());
}

void encode_map(Encoder& e, const std::map<std::string, std::string>& m) {
  e.u32(static_cast<uint32_t>(m.size()));
  for (const auto& [k, v] : m) e.str(k).str(v);
}

bool decode_map(Decoder& d, std::map<std::string, std::string>* m) {
  uint32_t n = d.u32();
  for (uint32_t i = 0; i < n && d.ok(); ++i) {
    std::string k(d.str());
    (*m)[k] = std::string(d.str());
  }
  return d.ok();
}

}  // namespace

void encode_setattr(Encoder& e, const gateway::SetAttrRequest& r) {
  put_opt(e, r.mode);
  put_opt(e, r.uid);
  put_opt(e, r.gid);
  put_opt(e, r.size);
  put_opt(e, r.atime_ns);
  put_opt(e, r.mtime_ns);
  e.u8(r.stable ? 1 : 0);
}

bool decode_setattr(Decoder& d, gateway::SetAttrRequest* r) {
  get_opt(d, &r->mode);
  get_opt(d, &r->uid);
  get_opt(d, &r->gid);
  get_opt(d, &r->size);
  get_opt(d, &r->atime_ns);
  get_opt(d, &r->mtime_ns);
  r->stable = d.u8() != 0;
  return d.ok();
}

void encode_meta(Encoder& e, const gateway::ObjectMeta& m) {
  e.str(m.content_type);
  encode_map(e, m.headers);
  encode_map(e, m.user_meta);
}

bool decode_meta(Decoder& d, gateway::ObjectMeta* m) {
  m->content_type = std::string(d.str());
  return decode_map(d, &m->headers) && decode_map(d, &m->user_meta);
}

void encode_info(Encoder& e, const gateway::ObjectInfo& i) {
  e.str(i.key).u64(i.size).str(i.etag).i64(i.mtime_ns);
  encode_meta(e, i.meta);
  e.u32(static_cast<uint32_t>(i.part_sizes.size()));
  for (uint64_t s : i.part_sizes) e.u64(s);
}

bool decode_info(Decoder& d, gateway::ObjectInfo* i) {
  i->key = std::string(d.str());
  i->size = d.u64();
  i->etag = std::string(d.str());
  i->mtime_ns = d.i64();
  if (!decode_meta(d, &i->meta)) return false;
  uint32_t n = d.u32();
  if (n > gateway::kMaxPartNumber) return false;
  i->part_sizes.resize(n);
  for (auto& s : i->part_sizes) s = d.u64();
  return d.ok();
}

void encode_fsstats(Encoder& e, const gateway::FsStats& s) {
  e.u64(s.total_bytes).u64(s.free_bytes).u64(s.avail_bytes).u64(s.total_files).u64(s.free_files);
}

bool decode_fsstats(Decoder& d, gateway::FsStats* s) {
  s->total_bytes = d.u64();
  s->free_bytes = d.u64();
  s->avail_bytes = d.u64();
  s->total_files = d.u64();
  s->free_files = d.u64();
  return d.ok();
}

}  // namespace kiseki::native
