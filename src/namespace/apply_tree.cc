// Apply of the namespace tree: files, directories, links, objects and multipart
// uploads. Fail-stop: every read error propagates (log/delta_log.h).
#include "namespace/apply_tree.h"

#include <algorithm>

#include "chunk/refs.h"
#include "namespace/apply_util.h"
#include "namespace/dir_object.h"
#include "namespace/state_machine.h"
#include "namespace/versions.h"

namespace kiseki::ns {

using meta::Cf;
using meta::Txn;

namespace tree {

Status conflict(std::string m) { return make_error(ErrorCode::kConflict, std::move(m)); }

Status get_inode(const Txn& txn, NamespaceId ns, InodeId ino, Inode* out) {
  std::string v;
  Status st = txn.get(Cf::kInodes, meta::inode_key(ns, ino), &v);
  if (st.code() == ErrorCode::kNotFound) return make_error(ErrorCode::kStale, "no inode " + std::to_string(ino));
  KISEKI_TRY(st);
  return decode_inode(v, out);
}

void put_inode(Txn& txn, NamespaceId ns, const Inode& i) {
  txn.put(Cf::kInodes, meta::inode_key(ns, i.ino), encode_inode(i));
}

// kNotFound if the name is absent.
Status get_dentry(const Txn& txn, NamespaceId ns, InodeId parent, std::string_view name, Dentry* out) {
  std::string v;
  Status st = txn.get(Cf::kDentries, meta::dentry_key(ns, parent, name), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found(std::string(name));
  KISEKI_TRY(st);
  return decode_dentry(v, out);
}

void add_dentry(Txn& txn, NamespaceId ns, Inode& dir, std::string_view name, InodeId ino, FileType type) {
  Dentry d{ino, type, dir.next_cookie++};
  txn.put(Cf::kDentries, meta::dentry_key(ns, dir.ino, name), encode_dentry(d));
  txn.put(Cf::kDirCookies, meta::dircookie_key(ns, dir.ino, d.cookie), encode_dircookie(name, ino, type));
}

void remove_dentry(Txn& txn, NamespaceId ns, InodeId parent, std::string_view name, const Dentry& d) {
  txn.del(Cf::kDentries, meta::dentry_key(ns, parent, name));
  txn.del(Cf::kDirCookies, meta::dircookie_key(ns, parent, d.cookie));
}

Result<bool> dir_is_empty(const Txn& txn, NamespaceId ns, InodeId dir) {
  auto it = txn.iterator(Cf::kDentries);
  std::string prefix = meta::dentry_prefix(ns, dir);
  it->Seek(prefix);
  if (it->Valid() && it->key().starts_with(prefix)) return false;
  KISEKI_TRY(meta::from_rocks(it->status(), "scan directory"));
  return true;
}

Status load_dir(const Txn& txn, NamespaceId ns, InodeId ino, Inode* dir) {
  KISEKI_TRY(get_inode(txn, ns, ino, dir));
  if (!dir->is_dir()) return make_error(ErrorCode::kNotDirectory, "not a directory");
  return Status::ok();
}

void touch(Inode& i, int64_t t) {
  i.attr.mtime_ns = i.attr.ctime_ns = t;
  ++i.version;
}

// The tenant whose namespace the delta changes, if it references shared-domain
// chunks (their ledger entries are the tenant's: chunk/refs.h); 0 otherwise.
Result<TenantId> shared_owner(const Txn& txn, const Delta& d) {
  auto shared = [](const ChunkId& id) { return domain_of(id) == kSharedDomain; };
  bool any = std::any_of(d.unrefs.begin(), d.unrefs.end(), shared) ||
             std::any_of(d.refs.begin(), d.refs.end(), [&](const ChunkRef& r) { return shared(r.id); });
  if (!any) return TenantId{0};
  std::string v;
  Status st = txn.get(Cf::kNamespaces, ns_id_key(d.ns), &v);
  if (st.code() == ErrorCode::kNotFound) return not_found("no namespace " + std::to_string(d.ns));
  KISEKI_TRY(st);
  NamespaceRecord r;
  KISEKI_TRY(decode_ns_record(v, &r));
  return r.tenant;
}

Status apply_unrefs(Txn& txn, const Delta& d) {
  KISEKI_ASSIGN_OR_RETURN(TenantId owner, shared_owner(txn, d));
  for (const auto& u : d.unrefs) KISEKI_TRY(chunk::apply_unref(txn, u, owner));
  return Status::ok();
}

Status apply_refs(Txn& txn, const Delta& d) {
  KISEKI_ASSIGN_OR_RETURN(TenantId owner, shared_owner(txn, d));
  for (const auto& r : d.refs) KISEKI_TRY(chunk::apply_ref(txn, r.id, r.fresh, owner, r.form));
  for (const auto& u : d.unrefs) KISEKI_TRY(chunk::apply_unref(txn, u, owner));
  return Status::ok();
}

// Makes a new inode from the delta's template, with a fresh number and generation.
Result<Inode> new_inode(Txn& txn, NamespaceId ns, const Inode& tmpl, InodeId parent) {
  Inode i = tmpl;
  KISEKI_ASSIGN_OR_RETURN(i.ino, txn.next_counter("ino:" + meta::key_u64(ns), kRootInode + 1));
  KISEKI_ASSIGN_OR_RETURN(i.generation, txn.next_counter("generation"));
  i.version = 1;
  i.nlink = i.is_dir() ? 2 : 1;
  i.parent = i.is_dir() ? parent : kInvalidInode;
  i.next_cookie = kFirstCookie;
  return i;
}

// Links a new inode under `dir` (already loaded) and saves both.
Result<InodeId> create_in(Txn& txn, NamespaceId ns, Inode& dir, std::string_view name, const Inode& tmpl,
                          int64_t t) {
  KISEKI_ASSIGN_OR_RETURN(Inode i, new_inode(txn, ns, tmpl, dir.ino));
  i.parent = dir.ino;
  i.name = std::string(name);
  add_dentry(txn, ns, dir, name, i.ino, i.type);
  if (i.is_dir()) ++dir.nlink;
  touch(dir, t);
  put_inode(txn, ns, i);
  put_inode(txn, ns, dir);
  return i.ino;
}

// Drops one link of `victim` (already unlinked from its dentry); removes the inode
// and its chunk references at the last link.
Status drop_link(Txn& txn, const Delta& d, Inode& victim, InodeId dir, std::string_view name, int64_t t) {
  // The link that named the file's key goes: while others stay, it has none.
  if (victim.parent == dir && victim.name == name && !victim.is_dir()) {
    victim.parent = kInvalidInode;
    victim.name.clear();
  }
  if (victim.is_dir() || victim.nlink <= 1) {
    txn.del(Cf::kInodes, meta::inode_key(d.ns, victim.ino));
    return apply_unrefs(txn, d);
  }
  if (!d.unrefs.empty()) return conflict("inode still has links; its chunks stay referenced");
  --victim.nlink;
  victim.attr.ctime_ns = t;
  ++victim.version;
  put_inode(txn, d.ns, victim);
  return Status::ok();
}

// True if `ancestor` is `dir` or lies on the parent chain from `dir` to the root.
Status is_ancestor(const Txn& txn, NamespaceId ns, InodeId ancestor, InodeId dir, bool* out) {
  *out = false;
  for (int depth = 0; depth < 4096; ++depth) {
    if (dir == ancestor) { *out = true; return Status::ok(); }
    if (dir == kRootInode || dir == kInvalidInode) return Status::ok();
    Inode i;
    KISEKI_TRY(get_inode(txn, ns, dir, &i));
    dir = i.parent;
  }
  return corruption("directory parent chain too deep or cyclic");
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::string out_u64(uint64_t v) { return meta::key_u64(v); }

}  // namespace tree

using namespace tree;

// A name a file may be given: valid, and not the entry that shows a
// directory's object (ADR 0013).
static Status validate_new_name(std::string_view name) {
  KISEKI_TRY(validate_name(name));
  if (name == kObjectEntryName) return invalid_argument("'" + std::string(name) + "' is a name Kiseki reserves");
  return Status::ok();
}

// A folder marker ("a/b/"): the directory a/b, made explicit. Directories made
// for key prefixes are implicit and go with their last key; explicit ones stay
// until their marker is deleted, and list as "a/b/".
static Status apply_put_folder(Txn& txn, const Delta& d, Inode& dir, std::string_view leaf, std::string* out) {
  Dentry de;
  Status st = get_dentry(txn, d.ns, dir.ino, leaf, &de);
  if (st.code() == ErrorCode::kNotFound) {
    Inode tmpl;
    tmpl.type = FileType::kDirectory;
    tmpl.attr = d.inode.attr;
    tmpl.attr.mode = 0755;
    tmpl.btime_ns = d.time_ns;
    KISEKI_ASSIGN_OR_RETURN(InodeId ino, create_in(txn, d.ns, dir, leaf, tmpl, d.time_ns));
    *out = out_u64(ino);
    return Status::ok();
  }
  KISEKI_TRY(st);
  // The object "a" stays, carried by the folder "a/".
  if (de.type == FileType::kFile) KISEKI_TRY(file_to_dir(txn, d, dir, leaf, &de));
  if (de.type != FileType::kDirectory) return make_error(ErrorCode::kNotDirectory, "the folder's name is a link");
  Inode folder;
  KISEKI_TRY(get_inode(txn, d.ns, de.ino, &folder));
  if (folder.flags & kImplicitDir) {
    folder.flags &= ~kImplicitDir;
    ++folder.version;
    put_inode(txn, d.ns, folder);
  }
  *out = out_u64(folder.ino);
  return Status::ok();
}

static Status apply_put_object(Txn& txn, const Delta& d, std::string* out) {
  auto parts = split_path(d.name);
  for (auto p : parts) KISEKI_TRY(validate_name(p, kMaxKeyComponentBytes));
  Inode dir;
  KISEKI_TRY(load_dir(txn, d.ns, kRootInode, &dir));
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    Dentry de;
    Status st = get_dentry(txn, d.ns, dir.ino, parts[k], &de);
    if (st.is_ok()) {
      // An object that is now a prefix too (ADR 0013).
      if (de.type == FileType::kFile) KISEKI_TRY(file_to_dir(txn, d, dir, parts[k], &de));
      if (de.type != FileType::kDirectory)
        return make_error(ErrorCode::kNotDirectory,
                          "key prefix '" + std::string(parts[k]) + "' is a symbolic link");
      KISEKI_TRY(load_dir(txn, d.ns, de.ino, &dir));
      continue;
    }
    if (st.code() != ErrorCode::kNotFound) return st;
    Inode tmpl;
    tmpl.type = FileType::kDirectory;
    tmpl.flags = kImplicitDir;
    tmpl.attr = d.inode.attr;
    tmpl.attr.mode = 0755;
    tmpl.btime_ns = d.time_ns;
    KISEKI_ASSIGN_OR_RETURN(InodeId child, create_in(txn, d.ns, dir, parts[k], tmpl, d.time_ns));
    KISEKI_TRY(load_dir(txn, d.ns, child, &dir));
  }
  std::string_view leaf = parts.back();
  if (d.flags & kFolder) return apply_put_folder(txn, d, dir, leaf, out);
  Dentry de;
  Status st = get_dentry(txn, d.ns, dir.ino, leaf, &de);
  if (st.is_ok()) {
    if (de.type == FileType::kDirectory) {  // the directory carries the key's object
      Inode target;
      KISEKI_TRY(get_inode(txn, d.ns, de.ino, &target));
      return put_dir_object(txn, d, target, out);
    }
    if (de.type != FileType::kFile) return make_error(ErrorCode::kNotDirectory, "key names a symbolic link");
    if (d.flags & kMustNotExist) return make_error(ErrorCode::kPreconditionFailed, "object exists");
    Inode cur;
    KISEKI_TRY(get_inode(txn, d.ns, de.ino, &cur));
    if (cur.version != d.version) return conflict("object changed since it was read");
    if (d.flags & kKeepVersion) {
      if (!d.unrefs.empty()) return invalid_argument("a kept version keeps its references");
      KISEKI_TRY(keep_version(txn, d, cur, d.name2));
    } else if (!keeps_data(cur, d)) {
      KISEKI_TRY(check_unlocked(cur, d));
    }
    Inode next = cur;
    next.content = d.inode.content;
    next.size = d.inode.size;
    next.attr = d.inode.attr;
    next.lock = d.inode.lock;
    next.attr.ctime_ns = d.time_ns;
    ++next.version;
    put_inode(txn, d.ns, next);
    KISEKI_TRY(apply_refs(txn, d));
    *out = out_u64(next.ino);
    return Status::ok();
  }
  if (st.code() != ErrorCode::kNotFound) return st;
  if (d.version != 0) return conflict("object vanished since it was read");
  if (!d.unrefs.empty()) return conflict("unrefs for an object that does not exist");
  Inode tmpl = d.inode;
  tmpl.type = FileType::kFile;
  KISEKI_ASSIGN_OR_RETURN(InodeId ino, create_in(txn, d.ns, dir, leaf, tmpl, d.time_ns));
  *out = out_u64(ino);
  return apply_refs(txn, d);
}

static Status apply_delete_object(Txn& txn, const Delta& d) {
  auto parts = split_path(d.name);
  std::vector<Inode> dirs(1);
  KISEKI_TRY(load_dir(txn, d.ns, kRootInode, &dirs[0]));
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    Dentry de;
    KISEKI_TRY(get_dentry(txn, d.ns, dirs.back().ino, parts[k], &de));
    if (de.type != FileType::kDirectory) return not_found("no such key");
    dirs.emplace_back();
    KISEKI_TRY(load_dir(txn, d.ns, de.ino, &dirs.back()));
  }
  Dentry de;
  KISEKI_TRY(get_dentry(txn, d.ns, dirs.back().ino, parts.back(), &de));
  if (d.flags & kFolder) {
    // Deleting a folder marker: an empty folder goes; one with keys below it
    // stays as their implicit prefix.
    if (de.type != FileType::kDirectory) return not_found("no such key");
    Inode folder;
    KISEKI_TRY(get_inode(txn, d.ns, de.ino, &folder));
    if (folder.flags & kImplicitDir) return not_found("no such key");
    folder.flags |= kImplicitDir;
    ++folder.version;
    put_inode(txn, d.ns, folder);
    dirs.push_back(folder);  // the pruning below starts at the folder itself
  } else if (de.type == FileType::kDirectory) {
    Inode target;
    KISEKI_TRY(get_inode(txn, d.ns, de.ino, &target));
    KISEKI_TRY(delete_dir_object(txn, d, target));
    dirs.push_back(target);  // pruned below if it was there only for keys below it
  } else {
    if (de.type != FileType::kFile) return not_found("no such key");
    Inode victim;
    KISEKI_TRY(get_inode(txn, d.ns, de.ino, &victim));
    if (victim.ino != d.ino || victim.version != d.version) return conflict("object changed since it was read");
    remove_dentry(txn, d.ns, dirs.back().ino, parts.back(), de);
    touch(dirs.back(), d.time_ns);
    put_inode(txn, d.ns, dirs.back());
    if (!(d.flags & kKeepVersion)) KISEKI_TRY(check_unlocked(victim, d));
    if (d.flags & kKeepVersion) {
      // The content becomes a version. An inode with other links (NFS hard
      // links) keeps its own references: the delta brings the version's.
      if (!d.unrefs.empty()) return invalid_argument("a kept version keeps its references");
      KISEKI_TRY(keep_version(txn, d, victim, d.name2));
      if (victim.nlink <= 1) {
        txn.del(Cf::kInodes, meta::inode_key(d.ns, victim.ino));
      } else {
        KISEKI_TRY(drop_link(txn, d, victim, dirs.back().ino, parts.back(), d.time_ns));
        KISEKI_TRY(apply_refs(txn, d));
      }
    } else {
      KISEKI_TRY(drop_link(txn, d, victim, dirs.back().ino, parts.back(), d.time_ns));
    }
  }
  // Prune directories that existed only for this key's prefix.
  for (size_t k = dirs.size() - 1; k > 0; --k) {
    Inode& child = dirs[k];
    if (!(child.flags & kImplicitDir) || child.carries_object()) break;
    KISEKI_ASSIGN_OR_RETURN(bool empty, dir_is_empty(txn, d.ns, child.ino));
    if (!empty) break;
    Inode& parent = dirs[k - 1];
    Dentry cde;
    KISEKI_TRY(get_dentry(txn, d.ns, parent.ino, parts[k - 1], &cde));
    remove_dentry(txn, d.ns, parent.ino, parts[k - 1], cde);
    txn.del(Cf::kInodes, meta::inode_key(d.ns, child.ino));
    --parent.nlink;
    touch(parent, d.time_ns);
    put_inode(txn, d.ns, parent);
  }
  return Status::ok();
}

static Status apply_rename(Txn& txn, const Delta& d) {
  KISEKI_TRY(validate_name(d.name));
  KISEKI_TRY(validate_new_name(d.name2));
  Inode src_dir, dst_dir;
  KISEKI_TRY(load_dir(txn, d.ns, d.parent, &src_dir));
  KISEKI_TRY(load_dir(txn, d.ns, d.parent2, &dst_dir));
  Dentry sde;
  KISEKI_TRY(get_dentry(txn, d.ns, d.parent, d.name, &sde));
  Inode src;
  KISEKI_TRY(get_inode(txn, d.ns, sde.ino, &src));
  KISEKI_TRY(check_unlocked(src, d));  // a locked object keeps its key
  if (src.is_dir()) {
    bool inside = false;
    KISEKI_TRY(is_ancestor(txn, d.ns, src.ino, d.parent2, &inside));
    if (inside) return invalid_argument("cannot move a directory into itself");
  }
  Dentry dde;
  Status st = get_dentry(txn, d.ns, d.parent2, d.name2, &dde);
  if (st.is_ok()) {
    if (d.flags & kNoReplace) return make_error(ErrorCode::kExists, "target exists");
    if (dde.ino == sde.ino) return Status::ok();  // POSIX: same file, nothing to do
    Inode victim;
    KISEKI_TRY(get_inode(txn, d.ns, dde.ino, &victim));
    if (victim.ino != d.ino || victim.version != d.version) return conflict("rename target changed");
    KISEKI_TRY(check_unlocked(victim, d));
    if (src.is_dir() && !victim.is_dir()) return make_error(ErrorCode::kNotDirectory, "target is not a directory");
    if (!src.is_dir() && victim.is_dir()) return make_error(ErrorCode::kIsDirectory, "target is a directory");
    if (victim.is_dir()) {
      KISEKI_ASSIGN_OR_RETURN(bool empty, dir_is_empty(txn, d.ns, victim.ino));
      if (!empty || victim.carries_object()) return make_error(ErrorCode::kNotEmpty, "target directory not empty");
    }
    remove_dentry(txn, d.ns, d.parent2, d.name2, dde);
    if (victim.is_dir()) --dst_dir.nlink;
    if ((d.flags & kKeepVersion) && !victim.is_dir()) {
      // The file replaced is kept as a version of its key (entry d.blob).
      if (!d.unrefs.empty()) return invalid_argument("a kept version keeps its references");
      KISEKI_TRY(keep_version(txn, d, victim, d.blob));
      if (victim.nlink <= 1) {
        txn.del(Cf::kInodes, meta::inode_key(d.ns, victim.ino));
      } else {
        KISEKI_TRY(drop_link(txn, d, victim, d.parent2, d.name2, d.time_ns));
        KISEKI_TRY(apply_refs(txn, d));
      }
    } else {
      KISEKI_TRY(drop_link(txn, d, victim, d.parent2, d.name2, d.time_ns));
    }
  } else if (st.code() != ErrorCode::kNotFound) {
    return st;
  } else if (d.ino != 0) {
    return conflict("rename target vanished");
  }
  remove_dentry(txn, d.ns, d.parent, d.name, sde);
  bool same_dir = d.parent == d.parent2;
  Inode& target_dir = same_dir ? src_dir : dst_dir;
  if (same_dir) target_dir.nlink = dst_dir.nlink;  // keep the victim's nlink change
  add_dentry(txn, d.ns, target_dir, d.name2, src.ino, src.type);
  if (src.is_dir() && !same_dir) {
    --src_dir.nlink;
    ++dst_dir.nlink;
  }
  if (src.is_dir() || (src.parent == d.parent && src.name == d.name)) {
    src.parent = d.parent2;
    src.name = d.name2;
  }
  src.attr.ctime_ns = d.time_ns;
  src.flags &= ~kImplicitDir;  // renamed by a user: now a directory of its own
  ++src.version;
  put_inode(txn, d.ns, src);
  touch(src_dir, d.time_ns);
  put_inode(txn, d.ns, src_dir);
  if (!same_dir) {
    touch(dst_dir, d.time_ns);
    put_inode(txn, d.ns, dst_dir);
  }
  return Status::ok();
}

Status apply_tree_op(const Delta& d, Txn& txn, std::string* out) {
  switch (d.op) {
    case Op::kCreate: {
      KISEKI_TRY(validate_new_name(d.name));
      Inode dir;
      KISEKI_TRY(load_dir(txn, d.ns, d.parent, &dir));
      Dentry de;
      Status st = get_dentry(txn, d.ns, d.parent, d.name, &de);
      if (st.is_ok()) {
        // Non-exclusive create of a regular file opens the existing one.
        if ((d.flags & kExclusive) || d.inode.type != FileType::kFile || de.type != FileType::kFile)
          return make_error(ErrorCode::kExists, "'" + d.name + "' exists");
        *out = out_u64(de.ino) + "E";
        return Status::ok();
      }
      if (st.code() != ErrorCode::kNotFound) return st;
      KISEKI_ASSIGN_OR_RETURN(InodeId ino, create_in(txn, d.ns, dir, d.name, d.inode, d.time_ns));
      *out = out_u64(ino);
      return apply_refs(txn, d);
    }
    case Op::kLink: {
      KISEKI_TRY(validate_new_name(d.name));
      Inode dir, target;
      KISEKI_TRY(load_dir(txn, d.ns, d.parent, &dir));
      KISEKI_TRY(get_inode(txn, d.ns, d.ino, &target));
      if (target.is_dir()) return make_error(ErrorCode::kPermissionDenied, "hard links to directories are not allowed");
      KISEKI_ASSIGN_OR_RETURN(bool taken, txn.exists(Cf::kDentries, meta::dentry_key(d.ns, d.parent, d.name)));
      if (taken) return make_error(ErrorCode::kExists, "'" + d.name + "' exists");
      add_dentry(txn, d.ns, dir, d.name, target.ino, target.type);
      ++target.nlink;
      target.attr.ctime_ns = d.time_ns;
      ++target.version;
      touch(dir, d.time_ns);
      put_inode(txn, d.ns, target);
      put_inode(txn, d.ns, dir);
      return Status::ok();
    }
    case Op::kUnlink: {
      KISEKI_TRY(validate_name(d.name));
      Inode dir, victim;
      KISEKI_TRY(load_dir(txn, d.ns, d.parent, &dir));
      Dentry de;
      KISEKI_TRY(get_dentry(txn, d.ns, d.parent, d.name, &de));
      KISEKI_TRY(get_inode(txn, d.ns, de.ino, &victim));
      if (d.flags & kRmdir) {
        if (!victim.is_dir()) return make_error(ErrorCode::kNotDirectory, "not a directory");
        KISEKI_ASSIGN_OR_RETURN(bool empty, dir_is_empty(txn, d.ns, victim.ino));
        if (!empty || victim.carries_object()) return make_error(ErrorCode::kNotEmpty, "directory not empty");
        --dir.nlink;
      } else if (victim.is_dir()) {
        return make_error(ErrorCode::kIsDirectory, "is a directory");
      }
      if (victim.ino != d.ino || victim.version != d.version) return conflict("inode changed since it was read");
      KISEKI_TRY(check_unlocked(victim, d));
      remove_dentry(txn, d.ns, d.parent, d.name, de);
      touch(dir, d.time_ns);
      put_inode(txn, d.ns, dir);
      return drop_link(txn, d, victim, d.parent, d.name, d.time_ns);
    }
    case Op::kRename:
      return apply_rename(txn, d);
    case Op::kSetAttr: {
      Inode i;
      if (is_object_of(d.ino)) {
        // A directory's object (ADR 0013) has the directory's owner and mode;
        // its times are the directory's.
        if (d.flags & (kSetMode | kSetUid | kSetGid))
          return make_error(ErrorCode::kNotPermitted, "a directory's object has the directory's owner and mode");
        KISEKI_TRY(get_inode(txn, d.ns, dir_of_object(d.ino), &i));
        if (!i.carries_object()) return make_error(ErrorCode::kStale, "the directory carries no object now");
      } else {
        KISEKI_TRY(get_inode(txn, d.ns, d.ino, &i));
      }
      if (d.flags & kSetMode) i.attr.mode = d.inode.attr.mode & 07777;
      if (d.flags & kSetUid) i.attr.uid = d.inode.attr.uid;
      if (d.flags & kSetGid) i.attr.gid = d.inode.attr.gid;
      if (d.flags & kSetAtime) i.attr.atime_ns = d.inode.attr.atime_ns;
      if (d.flags & kSetMtime) (is_object_of(d.ino) ? i.object_mtime_ns : i.attr.mtime_ns) = d.inode.attr.mtime_ns;
      i.attr.ctime_ns = d.time_ns;
      ++i.version;
      put_inode(txn, d.ns, i);
      return Status::ok();
    }
    case Op::kSetContent: {
      Inode i;
      if (is_object_of(d.ino)) {  // a write of a directory's object (ADR 0013)
        KISEKI_TRY(get_inode(txn, d.ns, dir_of_object(d.ino), &i));
        if (!i.carries_object()) return make_error(ErrorCode::kStale, "the directory carries no object now");
      } else {
        KISEKI_TRY(get_inode(txn, d.ns, d.ino, &i));
        if (i.type != FileType::kFile) return make_error(ErrorCode::kIsDirectory, "not a regular file");
      }
      if (i.version != d.version) return conflict("file changed since it was read");
      KISEKI_TRY(check_unlocked(i, d));
      // A versioned file's write: the content it replaces is kept (the delta's
      // refs count the version's references too).
      if (d.flags & kKeepVersion) KISEKI_TRY(keep_version(txn, d, i, d.name2));
      i.content = d.inode.content;
      i.size = d.inode.size;
      (i.is_dir() ? i.object_mtime_ns : i.attr.mtime_ns) = d.time_ns;
      i.attr.ctime_ns = d.time_ns;
      ++i.version;
      put_inode(txn, d.ns, i);
      return apply_refs(txn, d);
    }
    case Op::kPutObject:
      return apply_put_object(txn, d, out);
    case Op::kDeleteObject:
      return apply_delete_object(txn, d);
    case Op::kDeleteVersion:
      return apply_delete_version(txn, d);
    case Op::kPutDeleteMarker:
      return apply_put_delete_marker(txn, d);
    case Op::kSetLock:
      return apply_set_lock(txn, d);
    case Op::kPutUpload:
      txn.put(Cf::kMultipart, upload_key(d.ns, d.name), d.blob);
      return Status::ok();
    case Op::kPutPart: {
      KISEKI_ASSIGN_OR_RETURN(bool upload, txn.exists(Cf::kMultipart, upload_key(d.ns, d.name)));
      if (!upload) return not_found("no such upload");
      std::string key = part_key(d.ns, d.name, static_cast<uint32_t>(d.a)), v;
      uint64_t seq = 0;
      Status st = txn.get(Cf::kMultipart, key, &v);
      if (st.is_ok()) {
        if (v.size() < 8) return corruption("multipart part record");
        seq = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
      } else if (st.code() != ErrorCode::kNotFound) {
        return st;
      }
      if (seq != d.version) return conflict("part changed since it was read");
      KISEKI_ASSIGN_OR_RETURN(uint64_t next, txn.next_counter("part_seq"));
      txn.put(Cf::kMultipart, key, meta::key_u64(next) + d.blob);
      return apply_refs(txn, d);
    }
    case Op::kDeleteUpload: {
      std::string prefix = upload_key(d.ns, d.name);
      KISEKI_ASSIGN_OR_RETURN(bool upload, txn.exists(Cf::kMultipart, prefix));
      if (!upload) return not_found("no such upload");
      auto it = txn.iterator(Cf::kMultipart);
      std::vector<std::string> keys;
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        keys.push_back(it->key().ToString());
      KISEKI_TRY(meta::from_rocks(it->status(), "scan upload parts"));
      for (const auto& k : keys) txn.del(Cf::kMultipart, k);
      return apply_refs(txn, d);
    }
    default:
      break;
  }
  return invalid_argument("unknown delta op " + std::to_string(static_cast<int>(d.op)));
}

Status put_root_inode(Txn& txn, NamespaceId ns, const Inode& tmpl) {
  Inode root = tmpl;
  root.ino = kRootInode;
  root.type = FileType::kDirectory;
  root.nlink = 2;
  root.version = 1;
  KISEKI_ASSIGN_OR_RETURN(root.generation, txn.next_counter("generation"));
  root.parent = kRootInode;
  root.next_cookie = kFirstCookie;
  put_inode(txn, ns, root);
  return Status::ok();
}

}  // namespace kiseki::ns
