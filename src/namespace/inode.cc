#include "namespace/inode.h"

#include "common/bytes.h"

namespace kiseki::ns {

static constexpr uint8_t kInodeFormat = 1;
static constexpr uint8_t kTagLock = 1;  // tail fields
static constexpr uint8_t kTagName = 2;
static constexpr uint8_t kTagObjectMtime = 3;

std::string encode_inode(const Inode& i) {
  std::string v;
  Encoder e(&v);
  e.u8(kInodeFormat).u64(i.ino).u8(static_cast<uint8_t>(i.type)).u32(i.flags);
  e.u32(i.attr.mode).u32(i.attr.uid).u32(i.attr.gid);
  e.i64(i.attr.atime_ns).i64(i.attr.mtime_ns).i64(i.attr.ctime_ns).i64(i.btime_ns);
  e.u32(i.nlink).u64(i.size).u64(i.generation).u64(i.version).u64(i.parent).u64(i.next_cookie);
  e.str(i.content);
  // Optional tail of tagged fields (records written before it have none).
  if (i.lock.any()) {
    e.u8(kTagLock).u8(static_cast<uint8_t>(i.lock.mode)).i64(i.lock.retain_until_ns).u8(i.lock.legal_hold ? 1 : 0);
  }
  if (!i.name.empty()) e.u8(kTagName).str(i.name);
  if (i.flags & kDirObject) e.u8(kTagObjectMtime).i64(i.object_mtime_ns);
  return v;
}

namespace {

Status decode_inode_into(std::string_view v, Inode* i, bool with_content) {
  Decoder d(v);
  if (d.u8() != kInodeFormat) return corruption("inode record: unknown format");
  i->ino = d.u64();
  i->type = static_cast<FileType>(d.u8());
  i->flags = d.u32();
  i->attr.mode = d.u32();
  i->attr.uid = d.u32();
  i->attr.gid = d.u32();
  i->attr.atime_ns = d.i64();
  i->attr.mtime_ns = d.i64();
  i->attr.ctime_ns = d.i64();
  i->btime_ns = d.i64();
  i->nlink = d.u32();
  i->size = d.u64();
  i->generation = d.u64();
  i->version = d.u64();
  i->parent = d.u64();
  i->next_cookie = d.u64();
  std::string_view content = d.str();
  if (with_content) i->content.assign(content);
  else i->content.clear();
  i->lock = ObjectLock{};
  i->name.clear();
  i->object_mtime_ns = 0;
  while (d.ok() && !d.done()) {
    uint8_t tag = d.u8();
    if (tag == kTagLock) {
      uint8_t mode = d.u8();
      if (mode > static_cast<uint8_t>(LockMode::kCompliance)) return corruption("inode record: bad lock mode");
      i->lock.mode = static_cast<LockMode>(mode);
      i->lock.retain_until_ns = d.i64();
      i->lock.legal_hold = d.u8() != 0;
    } else if (tag == kTagName) {
      i->name = std::string(d.str());
    } else if (tag == kTagObjectMtime) {
      i->object_mtime_ns = d.i64();
    } else {
      return corruption("inode record: unknown field");
    }
  }
  if (!d.ok() || !d.done()) return corruption("inode record: truncated");
  if (i->type < FileType::kFile || i->type > FileType::kSymlink) return corruption("inode record: bad type");
  return Status::ok();
}

}  // namespace

Status decode_inode(std::string_view v, Inode* i) { return decode_inode_into(v, i, true); }

Status decode_inode_attrs(std::string_view v, Inode* i) { return decode_inode_into(v, i, false); }

std::string encode_dentry(const Dentry& dn) {
  std::string v;
  Encoder(&v).u64(dn.ino).u8(static_cast<uint8_t>(dn.type)).u64(dn.cookie);
  return v;
}

Status decode_dentry(std::string_view v, Dentry* dn) {
  Decoder d(v);
  dn->ino = d.u64();
  dn->type = static_cast<FileType>(d.u8());
  dn->cookie = d.u64();
  if (!d.ok() || !d.done()) return corruption("dentry record: truncated");
  return Status::ok();
}

// A leading NUL marks the format with the inode: a name never holds a NUL.
std::string encode_dircookie(std::string_view name, InodeId ino, FileType type) {
  std::string v;
  Encoder(&v).u8(0).u64(ino).u8(static_cast<uint8_t>(type)).raw(name);
  return v;
}

Status decode_dircookie(std::string_view v, DirCookieEntry* e) {
  if (v.empty()) return corruption("directory cookie entry: empty");
  if (v[0] != '\0') {
    e->name = std::string(v);
    e->ino = 0;
    return Status::ok();
  }
  Decoder d(v.substr(1));
  e->ino = d.u64();
  e->type = static_cast<FileType>(d.u8());
  if (!d.ok() || e->ino == 0 || v.size() <= 10) return corruption("directory cookie entry: truncated");
  e->name = std::string(v.substr(10));
  return Status::ok();
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // No overlong forms, no UTF-16 surrogates, nothing past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Status validate_name(std::string_view name, size_t max_bytes) {
  if (name.empty()) return invalid_argument("empty name");
  if (name.size() > max_bytes)
    return make_error(ErrorCode::kNameTooLong, "name longer than " + std::to_string(max_bytes) + " bytes");
  if (name == "." || name == "..") return invalid_argument("name may not be '.' or '..'");
  if (name.find('/') != std::string_view::npos) return invalid_argument("name may not contain '/'");
  if (name.find('\0') != std::string_view::npos) return invalid_argument("name may not contain NUL");
  if (!valid_utf8(name)) return invalid_argument("name is not valid UTF-8");
  return Status::ok();
}

}  // namespace kiseki::ns
