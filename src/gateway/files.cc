// Gateway file operations: POSIX semantics over the namespace state machine.
#include "gateway/local_gateway.h"

#include "crypto/chunk_cipher.h"
#include "gateway/object_util.h"
#include "gateway/permissions.h"

namespace kiseki::gateway {

using meta::Cf;
using ns::Delta;
using ns::Inode;
using ns::Op;

namespace {

InodeId decode_ino(const std::string& out) {
  return out.size() >= 8 ? get_be64(reinterpret_cast<const uint8_t*>(out.data())) : kInvalidInode;
}

}  // namespace

Result<FileAttr> LocalGateway::lookup(NsRef ns, InodeId parent, std::string_view name, const Caller& who) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  return lookup_now(ns, parent, name, who);
}

Result<FileAttr> LocalGateway::lookup_now(NsRef ns, InodeId parent, std::string_view name, const Caller& who) const {
  KISEKI_TRY(ns::validate_name(name));
  Inode dir;
  KISEKI_TRY(load_inode(ns, parent, &dir));
  if (!dir.is_dir()) return make_error(ErrorCode::kNotDirectory, "not a directory");
  KISEKI_TRY(check_search(who, to_attr(dir)));
  if (name == ns::kObjectEntryName) {
    if (!dir.carries_object()) return not_found("no entry '" + std::string(name) + "'");
    return getattr_now(ns, ns::object_of(parent));
  }
  std::string v;
  Status st = store_of(ns.ns).get(Cf::kDentries, meta::dentry_key(ns.ns, parent, name), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no entry '" + std::string(name) + "'");
  KISEKI_TRY(st);
  ns::Dentry de;
  KISEKI_TRY(ns::decode_dentry(v, &de));
  return getattr_now(ns, de.ino);
}

Result<FileAttr> LocalGateway::getattr(NsRef ns, InodeId ino) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  return getattr_now(ns, ino);
}

Result<FileAttr> LocalGateway::getattr_now(NsRef ns, InodeId ino) const {
  Inode i;
  KISEKI_TRY(load_inode(ns, ino, &i));
  return to_attr(i);
}

Status LocalGateway::check_dir(NsRef ns, InodeId dir, const Caller& who,
                               Status (*check)(const Caller&, const FileAttr&)) const {
  if (who.uid == 0) return Status::ok();
  auto a = getattr_now(ns, dir);
  if (!a) return a.status();
  if (a->type != FileType::kDirectory) return make_error(ErrorCode::kNotDirectory, "not a directory");
  return check(who, *a);
}

Status LocalGateway::check_remove(NsRef ns, InodeId dir, const FileAttr* victim, const Caller& who) const {
  if (who.uid == 0) return Status::ok();
  KISEKI_ASSIGN_OR_RETURN(FileAttr d, getattr_now(ns, dir));
  if (d.type != FileType::kDirectory) return make_error(ErrorCode::kNotDirectory, "not a directory");
  KISEKI_TRY(check_dir_change(who, d));
  return victim ? check_sticky(who, d, *victim) : Status::ok();
}

Result<std::optional<log::ApplyResult>> LocalGateway::replayed(NsRef ns, const Caller& who) const {
  if (who.req.empty()) return std::optional<log::ApplyResult>();
  return ns::lookup_request(store_of(ns.ns), who.req);
}

Result<FileAttr> LocalGateway::replayed_attr(NsRef ns, const log::ApplyResult& first, InodeId ino) const {
  KISEKI_TRY(first.status);
  if (ino == kInvalidInode && first.out.size() >= 8) ino = decode_ino(first.out);
  return getattr_now(ns, ino);
}

Result<FileAttr> LocalGateway::make_node(NsRef ns, InodeId parent, std::string_view name, Inode tmpl,
                                         bool exclusive, const Caller& who) {
  KISEKI_TRY(ns::validate_name(name));
  KISEKI_TRY(check_dir(ns, parent, who, check_dir_change));
  Delta d;
  d.op = Op::kCreate;
  d.flags = exclusive ? uint32_t{ns::kExclusive} : 0u;
  d.ns = ns.ns;
  d.parent = parent;
  d.name = std::string(name);
  d.time_ns = now();
  tmpl.attr.atime_ns = tmpl.attr.mtime_ns = tmpl.attr.ctime_ns = tmpl.btime_ns = d.time_ns;
  d.inode = std::move(tmpl);
  KISEKI_ASSIGN_OR_RETURN(std::string out, submit({d}, true, who));
  return getattr_now(ns, decode_ino(out));
}

Result<FileAttr> LocalGateway::create(NsRef ns, InodeId parent, std::string_view name, uint32_t mode,
                                 const Caller& who, bool exclusive) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, kInvalidInode);
  if (!exclusive) {
    // Opening a file that is there (open(O_CREAT), NFS UNCHECKED) needs no log
    // record; any other answer goes to the state machine, which decides races.
    auto existing = lookup_now(ns, parent, name, who);
    if (existing && existing->type == FileType::kFile) return existing;
    if (existing) return make_error(ErrorCode::kExists, "'" + std::string(name) + "' exists");
  }
  Inode t;
  t.type = FileType::kFile;
  t.attr.mode = mode & 07777;
  t.attr.uid = who.uid;
  t.attr.gid = who.gid;
  KISEKI_ASSIGN_OR_RETURN(Versioning v, versioning_of(ns));
  if (v == Versioning::kEnabled) {
    // A new object of a versioned namespace: a version with an id of its own.
    KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
    Content c;
    c.version_id = new_version_id(now());
    KISEKI_TRY(seal_content(kek, ns.ns, c, &t.content));
  }
  return make_node(ns, parent, name, t, exclusive, who);
}

Result<FileAttr> LocalGateway::mkdir(NsRef ns, InodeId parent, std::string_view name, uint32_t mode,
                                const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, kInvalidInode);
  Inode t;
  t.type = FileType::kDirectory;
  t.attr.mode = mode & 07777;
  t.attr.uid = who.uid;
  t.attr.gid = who.gid;
  return make_node(ns, parent, name, t, true, who);
}

Result<FileAttr> LocalGateway::symlink(NsRef ns, InodeId parent, std::string_view name,
                                  std::string_view target, const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  if (target.empty() || target.size() > 4095 || target.find('\0') != std::string_view::npos)
    return invalid_argument("symlink target must be 1..4095 bytes without NUL");
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, kInvalidInode);
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Inode t;
  t.type = FileType::kSymlink;
  t.attr.mode = 0777;
  t.attr.uid = who.uid;
  t.attr.gid = who.gid;
  t.size = target.size();
  Content c;
  c.symlink_target = std::string(target);
  KISEKI_TRY(seal_content(kek, ns.ns, c, &t.content));
  return make_node(ns, parent, name, t, true, who);
}

Result<std::string> LocalGateway::readlink(NsRef ns, InodeId ino) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  Inode i;
  KISEKI_TRY(load_inode(ns, ino, &i));
  if (i.type != FileType::kSymlink) return invalid_argument("not a symbolic link");
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  Content c;
  KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
  return c.symlink_target;
}

Result<FileAttr> LocalGateway::link(NsRef ns, InodeId ino, InodeId new_parent, std::string_view new_name,
                                    const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, ino);
  KISEKI_TRY(ns::validate_name(new_name));
  KISEKI_TRY(check_dir(ns, new_parent, who, check_dir_change));
  Delta d;
  d.op = Op::kLink;
  d.ns = ns.ns;
  d.parent = new_parent;
  d.name = std::string(new_name);
  d.ino = ino;
  d.time_ns = now();
  KISEKI_TRY(submit({d}, true, who).status());
  return getattr_now(ns, ino);
}

// The chunk references a removed inode drops: one per extent of its layout.
static Status layout_unrefs(const crypto::SecretKey& kek, NamespaceId ns, const Inode& i,
                            std::vector<ChunkId>* unrefs) {
  if (i.type != FileType::kFile || i.content.empty()) return Status::ok();
  Content c;
  KISEKI_TRY(open_content(kek, ns, i.content, &c));
  for (const auto& x : c.extents) unrefs->push_back(x.chunk);
  return Status::ok();
}

Status LocalGateway::remove_entry(NsRef ns, InodeId parent, std::string_view name, bool rmdir,
                                  const Caller& who) {
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return first->status;
  KISEKI_TRY(ns::validate_name(name));
  if (name == ns::kObjectEntryName && !rmdir) return remove_dir_object(ns, parent, who);
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KISEKI_ASSIGN_OR_RETURN(FileAttr a, lookup_now(ns, parent, name, who));
    KISEKI_TRY(check_remove(ns, parent, &a, who));
    Inode victim;
    KISEKI_TRY(load_inode(ns, a.ino, &victim));
    if (!rmdir && victim.type == FileType::kFile) {
      // A locked file stays where it is (EPERM), though a versioned removal
      // would keep it: what a file system user sees is that it is not removed.
      if (is_locked(victim.lock, now()))
        return make_error(ErrorCode::kNotPermitted, "the file is locked (object lock)");
      // In a versioned namespace a file's removal is an object's delete: it
      // becomes a version, and a delete marker is made (ADR 0012).
      KISEKI_ASSIGN_OR_RETURN(Versioning v, versioning_of(ns));
      std::optional<std::string> key;
      if (v != Versioning::kOff) {
        KISEKI_ASSIGN_OR_RETURN(key, file_key(ns, parent, name));
      }
      if (key) {
        KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
        return delete_versioned(ns, *key, kek, v, {}, who).status();
      }
    }
    Delta d;
    d.op = Op::kUnlink;
    d.flags = rmdir ? uint32_t{ns::kRmdir} : 0u;
    d.ns = ns.ns;
    d.parent = parent;
    d.name = std::string(name);
    d.ino = victim.ino;
    d.version = victim.version;
    d.time_ns = now();
    if (!victim.is_dir() && victim.nlink <= 1 && !victim.content.empty()) {
      KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
      KISEKI_TRY(layout_unrefs(kek, ns.ns, victim, &d.unrefs));
    }
    Status st = submit({d}, true, who).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "unlink kept conflicting with concurrent changes");
}

Status LocalGateway::remove_dir_object(NsRef ns, InodeId dir, const Caller& who) {
  KISEKI_ASSIGN_OR_RETURN(FileAttr a, lookup_now(ns, dir, ns::kObjectEntryName, who));
  KISEKI_TRY(check_remove(ns, dir, &a, who));
  Inode d;
  KISEKI_TRY(load_inode(ns, dir, &d));
  if (is_locked(d.lock, now()))
    return make_error(ErrorCode::kNotPermitted, "the object is locked (object lock)");
  KISEKI_ASSIGN_OR_RETURN(auto key, file_key(ns, d.parent, d.name));
  if (!key) return make_error(ErrorCode::kNotSupported, "the directory's key is not known");
  return delete_object(ns, *key);
}

Status LocalGateway::unlink(NsRef ns, InodeId parent, std::string_view name, const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  return remove_entry(ns, parent, name, false, who);
}
Status LocalGateway::rmdir(NsRef ns, InodeId parent, std::string_view name, const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  return remove_entry(ns, parent, name, true, who);
}

Status LocalGateway::rename(NsRef ns, InodeId parent, std::string_view name, InodeId new_parent,
                            std::string_view new_name, const Caller& who, bool no_replace) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return first->status;
  KISEKI_TRY(ns::validate_name(name));
  KISEKI_TRY(ns::validate_name(new_name));
  if (name == ns::kObjectEntryName || new_name == ns::kObjectEntryName)
    return invalid_argument("a directory's object is not renamed (ADR 0013)");
  if (who.uid != 0) {
    KISEKI_ASSIGN_OR_RETURN(FileAttr src, lookup_now(ns, parent, name, who));
    KISEKI_TRY(check_remove(ns, parent, &src, who));
    auto dst = lookup_now(ns, new_parent, new_name, who);
    if (!dst && dst.code() != ErrorCode::kNotFound) return dst.status();
    KISEKI_TRY(check_remove(ns, new_parent, dst ? &*dst : nullptr, who));
  }
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    Delta d;
    d.op = Op::kRename;
    d.ns = ns.ns;
    d.parent = parent;
    d.name = std::string(name);
    d.parent2 = new_parent;
    d.name2 = std::string(new_name);
    d.time_ns = now();
    if (no_replace) d.flags |= ns::kNoReplace;  // the apply refuses an existing target
    auto target = lookup_now(ns, new_parent, new_name);
    if (target && no_replace) return make_error(ErrorCode::kExists, "target exists");
    if (target) {
      Inode victim;
      KISEKI_TRY(load_inode(ns, target->ino, &victim));
      d.ino = victim.ino;
      d.version = victim.version;
      auto src = lookup_now(ns, parent, name);
      KISEKI_ASSIGN_OR_RETURN(bool kept, keep_rename_target(ns, new_parent, new_name, victim, &d));
      if (!kept && !victim.is_dir() && victim.nlink <= 1) {
        // Renaming a file over itself (another link to the same inode) drops nothing.
        if (src && src->ino != victim.ino) {
          KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
          KISEKI_TRY(layout_unrefs(kek, ns.ns, victim, &d.unrefs));
        }
      }
    } else if (target.code() != ErrorCode::kNotFound) {
      return target.status();
    }
    Status st = submit({d}, true, who).status();
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "rename kept conflicting with concurrent changes");
}

Status LocalGateway::open_listing(NsRef ns, InodeId dir, const Caller& who, Inode* d) const {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_TRY(load_inode(ns, dir, d));
  if (!d->is_dir()) return make_error(ErrorCode::kNotDirectory, "not a directory");
  return check_list(who, to_attr(*d));
}

Result<std::vector<DirEntry>> LocalGateway::readdir(NsRef ns, InodeId dir, uint64_t cookie,
                                                    size_t max_entries, const Caller& who) const {
  Inode d;
  KISEKI_TRY(open_listing(ns, dir, who, &d));
  return scan_dir(ns, d, cookie, max_entries);
}

Result<std::vector<DirEntry>> LocalGateway::scan_dir(NsRef ns, const Inode& d, uint64_t cookie,
                                                     size_t max_entries) const {
  InodeId dir = d.ino;
  if (cookie != 0 && cookie < ns::kFirstCookie) cookie = 0;
  if (cookie == ns::kObjectCookie) return std::vector<DirEntry>{};  // the last entry was the object's
  if (cookie >= d.next_cookie) {
    if (cookie == 0) return std::vector<DirEntry>{};
    return invalid_argument("readdir cookie beyond the directory's last entry");
  }
  std::vector<DirEntry> out;
  std::vector<size_t> old_format;  // entries written before cookie entries held the inode
  std::vector<std::string> keys;
  std::string prefix = meta::dentry_prefix(ns.ns, dir);
  {
    auto it = store_of(ns.ns).iterator(Cf::kDirCookies);
    it->Seek(meta::dircookie_key(ns.ns, dir, cookie + 1));
    for (; it->Valid() && it->key().starts_with(prefix) && out.size() < max_entries; it->Next()) {
      ns::DirCookieEntry ce;
      KISEKI_TRY(ns::decode_dircookie(it->value().ToStringView(), &ce));
      DirEntry e;
      e.cookie = get_be64(reinterpret_cast<const uint8_t*>(it->key().data() + 16));
      e.name = std::move(ce.name);
      e.ino = ce.ino;
      e.type = ce.type;
      if (e.ino == 0) {
        old_format.push_back(out.size());
        keys.push_back(meta::dentry_key(ns.ns, dir, e.name));
      }
      out.push_back(std::move(e));
    }
    KISEKI_TRY(meta::from_rocks(it->status(), "scan directory"));
    // Past the last real entry: the directory's object, if it carries one.
    bool at_end = !it->Valid() || !it->key().starts_with(prefix);
    if (at_end && out.size() < max_entries && d.carries_object())
      out.push_back(DirEntry{std::string(ns::kObjectEntryName), ns::object_of(dir), FileType::kFile, ns::kObjectCookie});
  }
  if (old_format.empty()) return out;
  std::vector<std::string> values;
  std::vector<Status> found;
  store_of(ns.ns).multi_get(Cf::kDentries, keys, &values, &found);
  for (size_t k = 0; k < old_format.size(); ++k) {
    if (!found[k]) continue;  // removed since the cookie was read: dropped below
    ns::Dentry de;
    KISEKI_TRY(ns::decode_dentry(values[k], &de));
    out[old_format[k]].ino = de.ino;
    out[old_format[k]].type = de.type;
  }
  std::erase_if(out, [](const DirEntry& e) { return e.ino == 0; });
  return out;
}

Result<std::vector<DirEntryPlus>> LocalGateway::readdir_plus(NsRef ns, InodeId dir, uint64_t cookie,
                                                             size_t max_entries, const Caller& who) const {
  uint64_t gen = meta::Store::generation();  // before anything is read
  Inode d;
  KISEKI_TRY(open_listing(ns, dir, who, &d));
  std::vector<DirEntryPlus> out;
  if (listings_.get(ns, dir, cookie, max_entries, &out)) return out;
  // While nothing is written, a batch larger than asked for is read and kept:
  // the calls that continue the listing find the rest in the cache. Under
  // writes, which would make it stale before it is used, only what was asked.
  size_t batch = listings_.current() ? std::max(max_entries, kListingBatch) : max_entries;
  bool to_end = false;
  KISEKI_ASSIGN_OR_RETURN(out, read_attrs(ns, d, cookie, batch, &to_end));
  listings_.put(ns, dir, cookie, gen, out, to_end);
  if (out.size() > max_entries) out.resize(max_entries);
  return out;
}

Result<std::vector<DirEntryPlus>> LocalGateway::read_attrs(NsRef ns, const Inode& d, uint64_t cookie,
                                                           size_t max_entries, bool* to_end) const {
  // An entry whose inode cannot be read (removed meanwhile, or a damaged
  // store) is left out, and as many more are read after it: fewer entries than
  // asked for means the end.
  std::vector<DirEntryPlus> out;
  for (;;) {
    size_t want = max_entries - out.size();
    KISEKI_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, scan_dir(ns, d, cookie, want));
    *to_end = entries.size() < want;
    if (!entries.empty()) cookie = entries.back().cookie;
    std::vector<std::string> keys;
    keys.reserve(entries.size());
    for (const auto& e : entries) keys.push_back(meta::inode_key(ns.ns, e.ino));
    // Attributes decoded straight from the store's buffers.
    std::vector<std::optional<FileAttr>> attrs(entries.size());
    Status failed;
    store_of(ns.ns).multi_get(Cf::kInodes, keys, [&](size_t i, const Status& st, std::string_view v) {
      if (!failed.is_ok() || ns::is_object_of(entries[i].ino)) return;
      if (!st.is_ok()) {
        if (st.code() != ErrorCode::kNotFound) failed = st;
        return;
      }
      Inode inode;
      if (Status d = ns::decode_inode_attrs(v, &inode); !d.is_ok()) failed = d;
      else attrs[i] = to_attr(inode);
    });
    KISEKI_TRY(failed);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (ns::is_object_of(entries[i].ino)) {
        auto a = getattr_now(ns, entries[i].ino);
        if (a) out.push_back(DirEntryPlus{std::move(entries[i]), *a});
        continue;
      }
      if (attrs[i]) out.push_back(DirEntryPlus{std::move(entries[i]), *attrs[i]});
    }
    if (*to_end || out.size() == max_entries) return out;
  }
}

Result<std::shared_ptr<const chunk::OpenedChunk>> LocalGateway::open_cached(const crypto::DomainKeys& domain,
                                                                            const ChunkId& id) const {
  if (auto hot = cache_->get(id)) return hot;
  auto opened = std::make_shared<chunk::OpenedChunk>();
  KISEKI_TRY(read_chunk(domain, id, &opened->bytes));
  cache_->put(id, opened);
  return std::shared_ptr<const chunk::OpenedChunk>(std::move(opened));
}

// Fills `out` with [offset, offset + length) of a file, zeros in holes.
Status LocalGateway::read_range(const crypto::DomainKeys& domain, const Content& c, uint64_t size,
                                uint64_t offset, uint64_t length, Bytes* out) const {
  if (offset >= size || length == 0) {  // (an empty buffer's data() may be null)
    out->clear();
    return Status::ok();
  }
  length = std::min(length, size - offset);
  out->resize(length);  // a buffer reused at the same size is not cleared: every byte is written below
  uint8_t* dst = out->data();
  if (!c.inline_data.empty() || c.extents.empty()) {
    uint64_t n = std::min<uint64_t>(length, c.inline_data.size() > offset ? c.inline_data.size() - offset : 0);
    std::memcpy(dst, c.inline_data.data() + offset, n);
    std::memset(dst + n, 0, length - n);
    return Status::ok();
  }
  uint64_t end = offset + length, filled = offset;  // holes read as zeros
  auto it = std::upper_bound(c.extents.begin(), c.extents.end(), offset,
                             [](uint64_t o, const Extent& x) { return o < x.end(); });
  thread_local Bytes plain;
  for (; it != c.extents.end() && it->file_offset < end; ++it) {
    // Hot chunks come opened from the cache (only those of the reader's own
    // domain: any other id fails the open below, as it always did).
    std::shared_ptr<const chunk::OpenedChunk> hot;
    if (cache_->enabled() && domain_of(it->chunk) == domain.domain) {
      KISEKI_ASSIGN_OR_RETURN(hot, open_cached(domain, it->chunk));
    } else {
      KISEKI_TRY(read_chunk(domain, it->chunk, &plain));
    }
    const Bytes& bytes = hot ? hot->bytes : plain;
    if (static_cast<uint64_t>(it->chunk_offset) + it->length > bytes.size())
      return corruption("extent reaches past its chunk");
    uint64_t from = std::max(offset, it->file_offset), to = std::min(end, it->end());
    if (from > filled) std::memset(dst + (filled - offset), 0, from - filled);
    std::memcpy(dst + (from - offset), bytes.data() + it->chunk_offset + (from - it->file_offset), to - from);
    filled = to;
  }
  if (filled < end) std::memset(dst + (filled - offset), 0, end - filled);
  return Status::ok();
}

Status LocalGateway::pin_range(const crypto::DomainKeys& domain, const Content& c, uint64_t size, uint64_t offset,
                               uint64_t length, size_t max_slices, PinnedBytes* out) const {
  out->release();
  if (offset >= size || length == 0) return Status::ok();
  uint64_t end = offset + std::min(length, size - offset);
  auto first = std::upper_bound(c.extents.begin(), c.extents.end(), offset,
                                [](uint64_t o, const Extent& x) { return o < x.end(); });
  // Pinned where the range is chunks of the reader's domain end to end;
  // inline bytes, holes and other domains' chunks are copied as before.
  bool pinnable = cache_->enabled() && c.inline_data.empty();
  uint64_t at = offset;
  for (auto it = first; pinnable && at < end; ++it) {
    pinnable = it != c.extents.end() && it->file_offset <= at && domain_of(it->chunk) == domain.domain;
    if (pinnable) at = std::max(at, it->end());
  }
  if (!pinnable) {
    KISEKI_TRY(read_range(domain, c, size, offset, end - offset, &out->copy));
    out->slices.emplace_back(out->copy);
    out->size = out->copy.size();
    return Status::ok();
  }
  for (auto it = first; offset + out->size < end && out->slices.size() < max_slices; ++it) {
    uint64_t from = std::max(offset + out->size, it->file_offset), to = std::min(end, it->end());
    if (to <= from) continue;
    auto hot = open_cached(domain, it->chunk);
    if (hot && static_cast<uint64_t>(it->chunk_offset) + it->length > (*hot)->bytes.size())
      hot = corruption("extent reaches past its chunk");
    if (!hot) {
      out->release();
      return hot.status();
    }
    out->slices.emplace_back((*hot)->bytes.data() + it->chunk_offset + (from - it->file_offset), to - from);
    out->pins.push_back(std::move(*hot));
    out->size += to - from;
  }
  return Status::ok();
}

// What a file read needs: the file's layout and size, and its domain's keys,
// after the checks every read makes.
Status LocalGateway::open_for_read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                                   FileToRead* f) const {
  if (offset > (1ull << 62) || length > (1ull << 32)) return invalid_argument("offset or length out of range");
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  Inode i;
  KISEKI_TRY(load_inode(ns, ino, &i));
  if (i.is_dir()) return make_error(ErrorCode::kIsDirectory, "is a directory");
  if (i.type != FileType::kFile) return invalid_argument("not a regular file");
  KISEKI_TRY(check_data_access(who, to_attr(i), kMayRead));
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_TRY(open_content(kek, ns.ns, i.content, &f->content));
  KISEKI_ASSIGN_OR_RETURN(f->domain, domain_keys(ns.tenant));
  f->size = i.size;
  return Status::ok();
}

Status LocalGateway::read(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                          Bytes* out) const {
  FileToRead f;
  KISEKI_TRY(open_for_read(ns, ino, offset, length, who, &f));
  return read_range(f.domain, f.content, f.size, offset, length, out);
}

Status LocalGateway::read_pinned(NsRef ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who,
                                 PinnedBytes* out, size_t max_slices) const {
  out->release();
  FileToRead f;
  KISEKI_TRY(open_for_read(ns, ino, offset, length, who, &f));
  return pin_range(f.domain, f.content, f.size, offset, length, max_slices, out);
}

// Stores `data` as chunks for the range at `offset` and returns the extents and
// the prepared (pinned) chunks.
static Status store_pieces(chunk::ChunkStore* chunks, const crypto::DomainKeys& domain, uint64_t offset,
                           ByteSpan data, uint32_t piece, std::vector<Extent>* extents,
                           std::vector<chunk::PreparedChunk>* prepared) {
  for (size_t pos = 0; pos < data.size(); pos += piece) {
    ByteSpan p = data.subspan(pos, std::min<size_t>(piece, data.size() - pos));
    ChunkId id = crypto::compute_chunk_id(domain, p);
    KISEKI_ASSIGN_OR_RETURN(chunk::PreparedChunk pc, chunks->prepare(domain, id, p));
    extents->push_back({offset + pos, static_cast<uint32_t>(p.size()), id, 0});
    prepared->push_back(pc);
  }
  return Status::ok();  // submit makes them durable before the record is (write order)
}

// Turns a layout change into ref/unref lists; references to chunks this write
// prepared are fresh.
// The content a versioned write replaces becomes a version (entry `keep`), with
// references of its own.
static void keep_before_write(const std::string& keep, const std::vector<Extent>& before, Delta* d) {
  if (keep.empty()) return;
  d->flags |= ns::kKeepVersion;
  d->name2 = keep;
  add_refs(before, {}, d);
}

static void fill_refs(const std::vector<Extent>& before, const std::vector<Extent>& after,
                      const std::vector<chunk::PreparedChunk>& prepared, Delta* d) {
  std::map<ChunkId, int> delta;
  diff_refs(before, after, &delta);
  for (const auto& [id, n] : delta) {
    bool fresh = is_prepared(prepared, id);
    for (int k = 0; k < n; ++k) d->refs.push_back({id, fresh});
    for (int k = 0; k < -n; ++k) d->unrefs.push_back(id);
  }
}

Result<FileAttr> LocalGateway::write(NsRef ns, InodeId ino, uint64_t offset, ByteSpan data, bool stable,
                                     const Caller& who) {
  if (offset > (1ull << 62) || data.size() > (1ull << 32)) return invalid_argument("offset or length out of range");
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, ino);
  KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
  KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(ns.tenant));
  std::lock_guard lock(inode_lock(ns, ino));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    // Optimistic: the inode as this node has it. Its version is checked when
    // the record applies; a conflict, or an inode this node has not seen yet,
    // reads again after a read barrier.
    if (attempt > 0) KISEKI_TRY(log_of(ns.ns).read_barrier());
    Inode i;
    Status loaded = load_inode(ns, ino, &i);
    if (loaded.code() == ErrorCode::kStale && attempt == 0) continue;
    KISEKI_TRY(loaded);
    if (i.is_dir()) return make_error(ErrorCode::kIsDirectory, "is a directory");
    if (i.type != FileType::kFile) return invalid_argument("not a regular file");
    KISEKI_TRY(check_data_access(who, to_attr(i), kMayWrite));
    Content c;
    KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
    KISEKI_ASSIGN_OR_RETURN(std::string keep, version_before_write(ns, i, &c));
    uint64_t new_size = std::max<uint64_t>(i.size, offset + data.size());
    std::vector<Extent> before = c.extents;
    std::vector<chunk::PreparedChunk> prepared;
    if (c.extents.empty() && new_size <= opts_.inline_threshold) {
      c.inline_data.resize(new_size, '\0');
      std::memcpy(c.inline_data.data() + offset, data.data(), data.size());
    } else {
      if (!c.inline_data.empty()) {  // grows out of the inode: the old bytes become a chunk
        std::string old = std::move(c.inline_data);
        c.inline_data.clear();
        KISEKI_TRY(store_pieces(chunks_.get(), domain, 0, as_bytes(old), opts_.file_chunk_bytes,
                                &c.extents, &prepared));
      }
      std::vector<Extent> incoming;
      KISEKI_TRY(store_pieces(chunks_.get(), domain, offset, data, opts_.file_chunk_bytes, &incoming,
                              &prepared));
      splice_extents(&c.extents, offset, data.size(), incoming);
    }
    c.etag.clear();  // no longer the bytes an S3 PUT saw
    c.part_sizes.clear();
    Delta d;
    d.op = Op::kSetContent;
    d.ns = ns.ns;
    d.ino = ino;
    d.version = i.version;
    d.time_ns = now();
    d.inode.size = new_size;
    KISEKI_TRY(seal_content(kek, ns.ns, c, &d.inode.content));
    fill_refs(before, c.extents, prepared, &d);
    keep_before_write(keep, before, &d);
    Status st = submit({d}, stable, who).status();
    if (st.is_ok()) {
      if (!stable) unstable_writes_.fetch_add(1);
      return getattr_now(ns, ino);
    }
    if (st.code() != ErrorCode::kConflict) return st;
  }
  return make_error(ErrorCode::kConflict, "write kept conflicting with concurrent changes");
}

Result<FileAttr> LocalGateway::setattr(NsRef ns, InodeId ino, const SetAttrRequest& req, const Caller& who) {
  KISEKI_TRY(log_of(ns.ns).read_barrier());
  KISEKI_ASSIGN_OR_RETURN(auto first, replayed(ns, who));
  if (first) return replayed_attr(ns, *first, ino);
  if (who.uid != 0) {
    KISEKI_ASSIGN_OR_RETURN(FileAttr a, getattr_now(ns, ino));
    KISEKI_TRY(check_setattr(who, a, req));
  }
  Delta d;
  d.op = Op::kSetAttr;
  d.ns = ns.ns;
  d.ino = ino;
  d.time_ns = now();
  if (req.mode) { d.flags |= ns::kSetMode; d.inode.attr.mode = *req.mode; }
  if (req.uid) { d.flags |= ns::kSetUid; d.inode.attr.uid = *req.uid; }
  if (req.gid) { d.flags |= ns::kSetGid; d.inode.attr.gid = *req.gid; }
  if (req.atime_ns) { d.flags |= ns::kSetAtime; d.inode.attr.atime_ns = *req.atime_ns; }
  if (req.mtime_ns) { d.flags |= ns::kSetMtime; d.inode.attr.mtime_ns = *req.mtime_ns; }
  if (req.size) {
    if (*req.size > (1ull << 62)) return invalid_argument("size out of range");
    KISEKI_ASSIGN_OR_RETURN(crypto::SecretKey kek, tenant_key(ns.tenant));
    KISEKI_ASSIGN_OR_RETURN(crypto::DomainKeys domain, domain_keys(ns.tenant));
    std::lock_guard lock(inode_lock(ns, ino));
    Status st = make_error(ErrorCode::kConflict, "truncate kept conflicting with concurrent changes");
    for (int attempt = 0; attempt < kMaxRetries && st.code() == ErrorCode::kConflict; ++attempt) {
      Inode i;
      KISEKI_TRY(load_inode(ns, ino, &i));
      if (i.is_dir()) return make_error(ErrorCode::kIsDirectory, "is a directory");
      if (i.type != FileType::kFile) return invalid_argument("not a regular file");
      Content c;
      KISEKI_TRY(open_content(kek, ns.ns, i.content, &c));
      KISEKI_ASSIGN_OR_RETURN(std::string keep, version_before_write(ns, i, &c));
      std::vector<Extent> before = c.extents;
      std::vector<chunk::PreparedChunk> prepared;
      if (c.extents.empty() && *req.size <= opts_.inline_threshold) {
        c.inline_data.resize(*req.size, '\0');
      } else {
        if (!c.inline_data.empty()) {  // too large to stay inline: the bytes become a chunk
          std::string old = std::move(c.inline_data);
          c.inline_data.clear();
          KISEKI_TRY(store_pieces(chunks_.get(), domain, 0, as_bytes(old),
                                  opts_.file_chunk_bytes, &c.extents, &prepared));
        }
        truncate_extents(&c.extents, *req.size);
      }
      c.etag.clear();
      c.part_sizes.clear();
      Delta sd;
      sd.op = Op::kSetContent;
      sd.ns = ns.ns;
      sd.ino = ino;
      sd.version = i.version;
      sd.time_ns = d.time_ns;
      sd.inode.size = *req.size;
      KISEKI_TRY(seal_content(kek, ns.ns, c, &sd.inode.content));
      fill_refs(before, c.extents, prepared, &sd);
      keep_before_write(keep, before, &sd);
      st = submit({sd}, req.stable, who).status();
    }
    KISEKI_TRY(st);
    if (!req.stable) unstable_writes_.fetch_add(1);
  }
  if (d.flags != 0) {
    // A second record of the same call: its own request id, derived from the first.
    Caller attrs = who;
    if (!attrs.req.empty() && req.size) attrs.req = attrs.req.part(8);
    KISEKI_TRY(submit({d}, true, attrs).status());
  }
  return getattr_now(ns, ino);
}

Status LocalGateway::fsync(NsRef ns, InodeId ino) {
  Inode i;
  KISEKI_TRY(load_inode(ns, ino, &i));
  uint64_t unstable = unstable_writes_.load();
  if (opts_.durability == Durability::kSync && unstable == unstable_synced_.load()) return Status::ok();
  // The log's barrier syncs the segments first (before_commit: the unstable
  // writes' under `sync`, everything in the other modes).
  KISEKI_TRY(log_of(ns.ns).sync());  // concurrent fsyncs share one group commit
  uint64_t seen = unstable_synced_.load();
  while (seen < unstable && !unstable_synced_.compare_exchange_weak(seen, unstable)) {
  }
  return Status::ok();
}

Status LocalGateway::sync() {
  for (uint32_t k = 0; k < shard_count(); ++k) KISEKI_TRY(log_of_shard(k).sync());
  return Status::ok();
}

}  // namespace kiseki::gateway
