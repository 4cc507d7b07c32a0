// The half of apply that changes a namespace's tree (state_machine.cc holds the
// other half: tenants, namespaces, keys, exports, request ids).
#pragma once

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns {

// Applies one file, object or multipart delta.
Status apply_tree_op(const Delta& d, meta::Txn& txn, std::string* out);
Status put_root_inode(meta::Txn& txn, NamespaceId ns, const Inode& tmpl);

}  // namespace kiseki::ns
