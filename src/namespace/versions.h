// Object versions in the namespace (ADR 0012): a hidden directory per namespace
// (kVersionsInode) whose entries are the versions that are not current, named
// by the Gateway (key · NUL · version id). Apply keeps them; what a name means is
// the Gateway's.
#pragma once

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// `cur`'s content becomes a new inode of the versions directory, entry d.name2
// (kKeepVersion): its chunk references move with it.
Status keep_version(meta::Txn& txn, const Delta& d, const Inode& cur);
Status apply_delete_version(meta::Txn& txn, const Delta& d);
Status apply_put_delete_marker(meta::Txn& txn, const Delta& d);
// No object, directory or version left (DeleteBucket).
Result<bool> namespace_is_empty(const meta::Txn& txn, NamespaceId ns);
// The namespace's root and versions directory go (it must be empty).
void drop_namespace_dirs(meta::Txn& txn, NamespaceId ns);

}  // namespace kiseki::ns
