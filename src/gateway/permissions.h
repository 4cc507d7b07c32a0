// The POSIX permission model, one for every protocol: mode bits against the
// caller's uid, gid and groups (after the protocol's squashing), owner rules for
// changing attributes, and the sticky bit. The Gateway applies it on every file
// operation; protocols use it to answer questions such as NFS ACCESS.
// Caller{} is root: internal callers and protocols without users (S3) pass it.
#pragma once

#include "gateway/types.h"

namespace kiseki::gateway {

enum Access : uint32_t { kMayExec = 1, kMayWrite = 2, kMayRead = 4 };

bool in_group(const Caller& who, uint32_t gid);
// Mode bits only (root passes all but execute, which needs some x bit on a file).
bool may(const Caller& who, const FileAttr& a, uint32_t want);

// Reading or writing a file's data: the mode bits, or its owner (whose own
// open already succeeded: the NFS server convention for a file created
// read-only). kPermissionDenied otherwise.
Status check_data_access(const Caller& who, const FileAttr& file, uint32_t want);
// Looking up names in a directory: search permission.
Status check_search(const Caller& who, const FileAttr& dir);
// Listing a directory: read permission.
Status check_list(const Caller& who, const FileAttr& dir);
// Adding or removing a name: write and search permission on the directory.
Status check_dir_change(const Caller& who, const FileAttr& dir);
// Removing or replacing `victim` in `dir`: with the sticky bit set only the
// owner of either, or root, may (kNotPermitted).
Status check_sticky(const Caller& who, const FileAttr& dir, const FileAttr& victim);
// A SETATTR: mode by the owner; uid by root; gid by root or by the owner into
// one of its groups (kNotPermitted); times by the owner or, with write
// permission, any caller; size with write permission or as the owner
// (kPermissionDenied).
Status check_setattr(const Caller& who, const FileAttr& a, const SetAttrRequest& req);

}  // namespace kiseki::gateway
