// Apply of object versions (ADR 0012): the versions directory, versions kept
// from a replaced or deleted object, delete markers, and a version's removal.
#include <algorithm>

#include "namespace/apply_util.h"
#include "namespace/versions.h"

namespace kiseki::ns {

using meta::Cf;
using meta::Txn;
using namespace tree;

namespace {

// The versions directory, made the first time a version is kept.
Status versions_dir(Txn& txn, NamespaceId ns, int64_t t, Inode* dir) {
  Status st = get_inode(txn, ns, kVersionsInode, dir);
  if (st.code() != ErrorCode::kStale) return st;
  *dir = Inode{};
  dir->ino = kVersionsInode;
  dir->type = FileType::kDirectory;
  dir->attr = {0700, 0, 0, t, t, t};
  dir->btime_ns = t;
  dir->nlink = 2;
  dir->version = 1;
  KISEKI_ASSIGN_OR_RETURN(dir->generation, txn.next_counter("generation"));
  dir->parent = kVersionsInode;
  dir->next_cookie = kFirstCookie;
  return Status::ok();
}

// A new entry `name` of the versions directory for an inode made from `tmpl`.
Status add_version(Txn& txn, const Delta& d, std::string_view name, const Inode& tmpl) {
  if (name.find('\0') == std::string_view::npos) return invalid_argument("not a version's entry name");
  Inode dir;
  KISEKI_TRY(versions_dir(txn, d.ns, d.time_ns, &dir));
  KISEKI_ASSIGN_OR_RETURN(bool taken, txn.exists(Cf::kDentries, meta::dentry_key(d.ns, kVersionsInode, name)));
  if (taken) return conflict("a version of that id exists");
  KISEKI_ASSIGN_OR_RETURN(Inode v, new_inode(txn, d.ns, tmpl, kVersionsInode));
  v.parent = kVersionsInode;  // what tells a version from a file (usage counts them apart)
  v.name = std::string(name);
  add_dentry(txn, d.ns, dir, name, v.ino, FileType::kFile);
  put_inode(txn, d.ns, v);
  put_inode(txn, d.ns, dir);
  return Status::ok();
}

// True if `path` names an object (a file, or a directory's: ADR 0013) in the tree now.
Result<bool> is_object(const Txn& txn, NamespaceId ns, std::string_view path) {
  InodeId cur = kRootInode;
  for (auto part : split_path(path)) {
    Dentry de;
    Status st = get_dentry(txn, ns, cur, part, &de);
    if (st.code() == ErrorCode::kNotFound) return false;
    KISEKI_TRY(st);
    bool last = part.end() == path.end();
    if (de.type != FileType::kDirectory) return de.type == FileType::kFile && last;
    if (last) {
      Inode dir;
      KISEKI_TRY(get_inode(txn, ns, de.ino, &dir));
      return dir.carries_object();
    }
    cur = de.ino;
  }
  return false;
}

}  // namespace

Status keep_version(Txn& txn, const Delta& d, const Inode& cur, std::string_view entry) {
  Inode tmpl = cur;
  tmpl.type = FileType::kFile;
  tmpl.flags = 0;
  if (cur.is_dir()) {  // a directory's object (ADR 0013)
    tmpl.attr.mode = 0644;
    tmpl.attr.mtime_ns = cur.object_mtime_ns;
    tmpl.object_mtime_ns = 0;
  }
  return add_version(txn, d, entry, tmpl);
}

Status apply_put_delete_marker(Txn& txn, const Delta& d) {
  KISEKI_ASSIGN_OR_RETURN(bool there, is_object(txn, d.ns, d.name2));
  if (there) return conflict("the key is an object now");
  Inode tmpl;
  tmpl.type = FileType::kFile;
  tmpl.flags = kDeleteMarker;
  tmpl.attr = d.inode.attr;
  tmpl.btime_ns = d.time_ns;
  return add_version(txn, d, d.name, tmpl);
}

Status check_unlocked(const Inode& i, const Delta& d) {
  if (i.lock.legal_hold) return make_error(ErrorCode::kNotPermitted, "the object is under a legal hold");
  if (i.lock.mode == LockMode::kNone || d.time_ns >= i.lock.retain_until_ns) return Status::ok();
  if (i.lock.mode == LockMode::kGovernance && (d.flags & kBypassGovernance)) return Status::ok();
  return make_error(ErrorCode::kNotPermitted, "the object is locked (retention) until a later date");
}

bool keeps_data(const Inode& cur, const Delta& d) {
  if (d.inode.size != cur.size || !(d.inode.lock == cur.lock)) return false;
  std::vector<ChunkId> refs, unrefs = d.unrefs;
  for (const auto& r : d.refs) refs.push_back(r.id);
  std::sort(refs.begin(), refs.end());
  std::sort(unrefs.begin(), unrefs.end());
  return refs == unrefs;
}

Status apply_set_lock(Txn& txn, const Delta& d) {
  Inode i;
  KISEKI_TRY(get_inode(txn, d.ns, d.ino, &i));
  if (!i.has_object() || (i.flags & kDeleteMarker)) return invalid_argument("only objects are locked");
  if (i.version != d.version) return conflict("object changed since it was read");
  if (d.a & kSetRetention) {
    const ObjectLock& was = i.lock;
    const ObjectLock& now = d.inode.lock;
    bool active = was.mode != LockMode::kNone && d.time_ns < was.retain_until_ns;
    bool weaker = now.mode == LockMode::kNone || now.retain_until_ns < was.retain_until_ns ||
                  (was.mode == LockMode::kCompliance && now.mode != LockMode::kCompliance);
    if (active && weaker && (was.mode == LockMode::kCompliance || !(d.flags & kBypassGovernance)))
      return make_error(ErrorCode::kNotPermitted, "a retention in force is only lengthened");
    i.lock.mode = now.mode;
    i.lock.retain_until_ns = now.mode == LockMode::kNone ? 0 : now.retain_until_ns;
  }
  if (d.a & kSetLegalHold) i.lock.legal_hold = d.inode.lock.legal_hold;
  ++i.version;
  put_inode(txn, d.ns, i);
  return Status::ok();
}

Status apply_delete_version(Txn& txn, const Delta& d) {
  Dentry de;
  Status st = get_dentry(txn, d.ns, kVersionsInode, d.name, &de);
  if (st.code() == ErrorCode::kNotFound) return not_found("no such version");
  KISEKI_TRY(st);
  Inode v;
  KISEKI_TRY(get_inode(txn, d.ns, de.ino, &v));
  if (v.ino != d.ino || v.version != d.version) return conflict("version changed since it was read");
  KISEKI_TRY(check_unlocked(v, d));
  remove_dentry(txn, d.ns, kVersionsInode, d.name, de);
  txn.del(Cf::kInodes, meta::inode_key(d.ns, v.ino));
  return apply_unrefs(txn, d);
}

Result<bool> namespace_is_empty(const Txn& txn, NamespaceId ns) {
  KISEKI_ASSIGN_OR_RETURN(bool tree, dir_is_empty(txn, ns, kRootInode));
  if (!tree) return false;
  return dir_is_empty(txn, ns, kVersionsInode);
}

void drop_namespace_dirs(Txn& txn, NamespaceId ns) {
  txn.del(Cf::kInodes, meta::inode_key(ns, kRootInode));
  txn.del(Cf::kInodes, meta::inode_key(ns, kVersionsInode));
}

}  // namespace kiseki::ns
