// Delta records: every metadata mutation is a small serialized record that the
// state machine applies. One log record is a batch of deltas applied atomically.
// Deltas carry everything non-deterministic (times, sealed payloads, chunk
// locations), so applying them is a pure function of (store state, record).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chunk/segment.h"
#include "namespace/inode.h"

namespace kiseki::ns {

enum class Op : uint8_t {
  kCreateTenant = 1,  // name, blob = tenant record → out: tenant id
  kSetTenant,         // a = tenant id, blob = tenant record
  kCreateNamespace,   // a = tenant, name, inode = root attrs, blob = ns record → out: ns id
  kDeleteNamespace,   // a = tenant, name; the namespace must be empty
  kPutAccessKey,      // name = access key id, blob = record
  kDeleteAccessKey,   // name = access key id
  kCreate,            // ns, parent, name, inode (type, attrs, content) → out: ino
  kLink,              // ns, parent, name, ino
  kUnlink,            // ns, parent, name, ino + version expected, unrefs if last link
  kRename,            // ns, parent/name → parent2/name2; ino + version = replaced target
  kSetAttr,           // ns, ino, flags = AttrMask, inode.attr
  kSetContent,        // ns, ino, version expected, inode.size/content/mtime, refs, unrefs
  kPutObject,         // ns, name = key path, inode, version expected if replacing → out: ino
                      // (kNotDirectory: a prefix is an object; kIsDirectory: the key is a prefix)
  kDeleteObject,      // ns, name = key path, ino + version expected, unrefs
  kPutUpload,         // ns, name = upload id, blob = upload record
  kPutPart,           // ns, name = upload id, a = part number, version = expected seq, blob, refs, unrefs
  kDeleteUpload,      // ns, name = upload id, unrefs (all parts' chunks)
  kMoveChunk,         // refs[0] = new location, refs[1] = old location (same chunk id)
};

enum DeltaFlags : uint32_t {
  kExclusive = 1u << 0,     // kCreate: fail with kExists if the name exists
  kRmdir = 1u << 1,         // kUnlink: the target must be an empty directory
  kMustNotExist = 1u << 2,  // kPutObject: If-None-Match: *
  kNoReplace = 1u << 3,     // kRename: fail with kExists if the target exists
  kFolder = 1u << 4,        // kPutObject / kDeleteObject: the key ("a/b/") is a folder marker,
                            // i.e. the explicit directory a/b
};

enum AttrMask : uint32_t {
  kSetMode = 1u << 0,
  kSetUid = 1u << 1,
  kSetGid = 1u << 2,
  kSetAtime = 1u << 3,
  kSetMtime = 1u << 4,
};

struct ChunkRef {
  ChunkId id;
  std::optional<chunk::Location> written;
};

struct Delta {
  Op op = Op::kCreate;
  uint32_t flags = 0;
  NamespaceId ns = 0;
  uint64_t a = 0;
  InodeId parent = 0;
  InodeId parent2 = 0;
  InodeId ino = 0;
  uint64_t version = 0;
  int64_t time_ns = 0;
  std::string name;
  std::string name2;
  std::string blob;
  Inode inode;
  std::vector<ChunkRef> refs;
  std::vector<ChunkId> unrefs;
};

std::string encode_record(const std::vector<Delta>& deltas);
Status decode_record(std::string_view record, std::vector<Delta>* deltas);

}  // namespace kiseki::ns
