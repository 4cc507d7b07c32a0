// The pieces of apply that the tree's operations share (apply_tree.cc defines
// them; apply_versions.cc uses them too). Private to the namespace layer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "meta/txn.h"
#include "namespace/delta.h"

namespace kiseki::ns::tree {

Status conflict(std::string m);
// kStale if the inode is absent.
Status get_inode(const meta::Txn& txn, NamespaceId ns, InodeId ino, Inode* out);
void put_inode(meta::Txn& txn, NamespaceId ns, const Inode& i);
// kNotFound if the name is absent.
Status get_dentry(const meta::Txn& txn, NamespaceId ns, InodeId parent, std::string_view name, Dentry* out);
void add_dentry(meta::Txn& txn, NamespaceId ns, Inode& dir, std::string_view name, InodeId ino, FileType type);
void remove_dentry(meta::Txn& txn, NamespaceId ns, InodeId parent, std::string_view name, const Dentry& d);
Result<bool> dir_is_empty(const meta::Txn& txn, NamespaceId ns, InodeId dir);
Status load_dir(const meta::Txn& txn, NamespaceId ns, InodeId ino, Inode* dir);
void touch(Inode& i, int64_t t);
// The delta's chunk references: refs, then unrefs.
Status apply_refs(meta::Txn& txn, const Delta& d);
Status apply_unrefs(meta::Txn& txn, const Delta& d);
// A new inode from `tmpl` with a fresh number and generation.
Result<Inode> new_inode(meta::Txn& txn, NamespaceId ns, const Inode& tmpl, InodeId parent);
// Drops one link of `victim` (its dentry, `name` in `dir`, already gone); the
// inode and its references (the delta's unrefs) go with the last link.
Status drop_link(meta::Txn& txn, const Delta& d, Inode& victim, InodeId dir, std::string_view name, int64_t t);
std::vector<std::string_view> split_path(std::string_view path);
std::string out_u64(uint64_t v);

}  // namespace kiseki::ns::tree
