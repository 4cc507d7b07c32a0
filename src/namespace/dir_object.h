// Keys that are also prefixes (ADR 0013): a directory carries the object of its
// own key (kDirObject). Private to the namespace layer's apply.
#pragma once

#include <string>
#include <string_view>

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// The file `name` of `parent` (its dentry `*de`, which follows) becomes a
// directory carrying its content, because a key below it is written. The inode
// keeps its number and gets a new generation (file handles issued for it go
// stale); `parent` is saved.
Status file_to_dir(meta::Txn& txn, const Delta& d, Inode& parent, std::string_view name, Dentry* de);
// kPutObject of a key whose leaf is the directory `target`: sets (or replaces)
// the object it carries.
Status put_dir_object(meta::Txn& txn, const Delta& d, Inode& target, std::string* out);
// kDeleteObject of that key: the directory's object goes (or becomes a version);
// the directory stays, to be pruned by the caller if implicit and empty.
Status delete_dir_object(meta::Txn& txn, const Delta& d, Inode& target);

}  // namespace kiseki::ns
