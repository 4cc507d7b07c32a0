// Object versions in the namespace (ADR 0012): a hidden directory per namespace
// (kVersionsInode) whose entries are the versions that are not current, named
// by the Gateway (key · NUL · version id). Apply keeps them; what a name means is
// the Gateway's.
#pragma once

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// `cur`'s content becomes a new inode of the versions directory, entry `entry`
// (kKeepVersion): its chunk references move with it.
Status keep_version(meta::Txn& txn, const Delta& d, const Inode& cur, std::string_view entry);
Status apply_delete_version(meta::Txn& txn, const Delta& d);
Status apply_put_delete_marker(meta::Txn& txn, const Delta& d);
// kNotPermitted if `i` is locked (ObjectLock) at the delta's time; a GOVERNANCE
// retention gives way to kBypassGovernance, a legal hold to nothing.
Status check_unlocked(const Inode& i, const Delta& d);
// Replacing a locked object is allowed when its data stays: the delta's
// references are exactly its unrefs (an edit of the metadata in place).
bool keeps_data(const Inode& cur, const Delta& d);
Status apply_set_lock(meta::Txn& txn, const Delta& d);
// No object, directory or version left (DeleteBucket).
Result<bool> namespace_is_empty(const meta::Txn& txn, NamespaceId ns);
// The namespace's root and versions directory go (it must be empty).
void drop_namespace_dirs(meta::Txn& txn, NamespaceId ns);

}  // namespace kiseki::ns
