// Apply of the objects that directories carry (ADR 0013).
#include "namespace/apply_util.h"
#include "namespace/dir_object.h"
#include "namespace/versions.h"

namespace kiseki::ns {

using meta::Cf;
using meta::Txn;
using namespace tree;

Status file_to_dir(Txn& txn, const Delta& d, Inode& parent, std::string_view name, Dentry* de) {
  Inode f;
  KISEKI_TRY(get_inode(txn, d.ns, de->ino, &f));
  if (f.type != FileType::kFile)
    return make_error(ErrorCode::kNotDirectory, "key prefix '" + std::string(name) + "' is a symbolic link");
  // A hard-linked file's other names would then name a directory.
  if (f.nlink > 1)
    return make_error(ErrorCode::kNotDirectory,
                      "key prefix '" + std::string(name) + "' is a file with other hard links");
  f.type = FileType::kDirectory;
  f.flags |= kImplicitDir | kDirObject;
  f.object_mtime_ns = f.attr.mtime_ns;
  f.nlink = 2;
  KISEKI_ASSIGN_OR_RETURN(f.generation, txn.next_counter("generation"));
  f.parent = parent.ino;
  f.name = std::string(name);
  f.next_cookie = kFirstCookie;
  f.attr.mode = 0755;
  f.attr.ctime_ns = d.time_ns;
  ++f.version;
  put_inode(txn, d.ns, f);
  // The entry keeps its place (cookie) in the parent and changes its type.
  de->type = FileType::kDirectory;
  txn.put(Cf::kDentries, meta::dentry_key(d.ns, parent.ino, name), encode_dentry(*de));
  txn.put(Cf::kDirCookies, meta::dircookie_key(d.ns, parent.ino, de->cookie),
          encode_dircookie(name, f.ino, FileType::kDirectory));
  ++parent.nlink;
  touch(parent, d.time_ns);
  put_inode(txn, d.ns, parent);
  return Status::ok();
}

Status put_dir_object(Txn& txn, const Delta& d, Inode& target, std::string* out) {
  if (target.carries_object()) {
    if (d.flags & kMustNotExist) return make_error(ErrorCode::kPreconditionFailed, "object exists");
    if (target.version != d.version) return conflict("object changed since it was read");
    if (d.flags & kKeepVersion) {
      if (!d.unrefs.empty()) return invalid_argument("a kept version keeps its references");
      KISEKI_TRY(keep_version(txn, d, target, d.name2));
    } else if (!keeps_data(target, d)) {
      KISEKI_TRY(check_unlocked(target, d));
    }
  } else {
    if (d.version != 0) return conflict("object vanished since it was read");
    if (!d.unrefs.empty()) return conflict("unrefs for an object that does not exist");
    if (d.flags & kKeepVersion) return conflict("no object to keep as a version");
  }
  target.flags |= kDirObject;
  target.content = d.inode.content;
  target.size = d.inode.size;
  target.lock = d.inode.lock;
  target.object_mtime_ns = d.inode.attr.mtime_ns;  // a restored version's own time
  touch(target, d.time_ns);
  put_inode(txn, d.ns, target);
  KISEKI_TRY(apply_refs(txn, d));
  *out = out_u64(target.ino);
  return Status::ok();
}

Status delete_dir_object(Txn& txn, const Delta& d, Inode& target) {
  if (!target.carries_object()) return not_found("no such key");
  if (target.ino != d.ino || target.version != d.version) return conflict("object changed since it was read");
  if (d.flags & kKeepVersion) {
    // Its content and references become a version's.
    if (!d.unrefs.empty() || !d.refs.empty()) return invalid_argument("a kept version keeps its references");
    KISEKI_TRY(keep_version(txn, d, target, d.name2));
  } else {
    KISEKI_TRY(check_unlocked(target, d));
    KISEKI_TRY(apply_unrefs(txn, d));
  }
  target.flags &= ~kDirObject;
  target.content.clear();
  target.size = 0;
  target.lock = {};
  target.object_mtime_ns = 0;
  touch(target, d.time_ns);
  put_inode(txn, d.ns, target);
  return Status::ok();
}

}  // namespace kiseki::ns
