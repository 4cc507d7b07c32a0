// Delta records: every metadata mutation is a small serialized record that the
// state machine applies. One log record is a batch of deltas applied atomically.
// Deltas carry everything non-deterministic (times, sealed payloads, wrapped
// keys), so applying them is a pure function of (store state, record), and they
// carry only what every replica must agree on: never where a chunk sits on one
// node's disk (that is the chunk store's own state).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/redundancy.h"
#include "namespace/inode.h"

namespace kiseki::ns {

enum class Op : uint8_t {
  kCreateTenant = 1,  // name, blob = tenant record, name2 = wrapped KEK → out: tenant id
  kSetTenant,         // a = tenant id, blob = tenant record; kShred: the tenant is shredded
                      // (apply_purge.h: wrapped KEK, namespaces, access keys go)
  kCreateNamespace,   // a = tenant, name, inode = root attrs, blob = ns record → out: ns id
  kDeleteNamespace,   // a = tenant, name; the namespace must be empty
  kPutAccessKey,      // name = access key id, blob = record (its user must exist)
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
  kInitSecret,        // name = secret's name, blob = fresh material; kept if it exists → out: material
  kPutExport,         // name = export path, blob = options
  kDeleteExport,      // name = export path
  kPurgeTenant,       // a = shredded tenant, version = batch size; kPurgeDomain → out: u64 deleted · u8 more
  kIndexBuckets,      // once: index the names of namespaces made before names were global
  kSetNode,           // a = node id, blob = node record (cluster/cluster_map.h); kExclusive: only if unknown
  kCreateRoot,        // ns, inode = root attrs: a data shard's root directory of a namespace (if absent)
  kDropRoot,          // ns: a data shard's root directory of a namespace goes (it must be empty)
  kSetNamespaceConfig,  // a = tenant, ns, name = item, blob = document (empty: the item goes);
                        // root shard, ADR 0011
  kPutUser,           // a = tenant, name = user, blob = record; kExclusive: kExists if there
  kDeleteUser,        // a = tenant, name = user: the user and every access key of it go
  kDeleteVersion,     // ns, name = entry of the versions directory (ADR 0012), ino + version
                      // expected, unrefs: that version goes
  kPutDeleteMarker,   // ns, name = entry of the versions directory, name2 = key, inode.attr:
                      // a delete marker; kConflict if the key is an object now
  kSetLock,           // ns, ino + version expected, a = LockMask, inode.lock: a file's or
                      // version's object lock (retention only lengthens but with kBypassGovernance)
};


// Which metadata shard holds a namespace (ADR 0009): every node computes it
// alike from the id. The root shard 0 also holds what is cluster-wide.
inline uint32_t shard_of(NamespaceId ns, uint32_t shards) { return shards <= 1 ? 0 : static_cast<uint32_t>(ns % shards); }

enum DeltaFlags : uint32_t {
  kExclusive = 1u << 0,     // kCreate: fail with kExists if the name exists
  kRmdir = 1u << 1,         // kUnlink: the target must be an empty directory
  kMustNotExist = 1u << 2,  // kPutObject: If-None-Match: *
  kNoReplace = 1u << 3,     // kRename: fail with kExists if the target exists
  kFolder = 1u << 4,        // kPutObject / kDeleteObject: the key ("a/b/") is a folder marker,
                            // i.e. the explicit directory a/b
  kShred = 1u << 5,         // kSetTenant: the tenant is shredded; its wrapped KEK goes
  kPurgeDomain = 1u << 6,   // kPurgeTenant: also purge the references of dedup domain `a`
  kKeepVersion = 1u << 7,   // kPutObject / kDeleteObject / kSetContent: the object's content
                            // replaced or deleted becomes a version, entry name2 of the versions
                            // directory (ADR 0012; kRename: its target's, entry blob); its
                            // references move there (refs: a deleted object's other links, and
                            // a rewritten file, keep theirs)
  kBypassGovernance = 1u << 8,  // a GOVERNANCE retention does not hold for this delta
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
  // The submitter holds the chunk's bytes pinned on its node, so the reference
  // may bring the count up from zero (chunk/refs.h).
  bool fresh = false;
  // In a cluster, how a fresh chunk is kept (its namespace's policy): the
  // reference that brings the count up from zero records it (chunk/refs.h).
  std::optional<Redundancy> form;
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

std::string encode_record(const std::vector<Delta>& deltas, const RequestId& req = {});
// The op of a record's first delta without decoding it (0 when the record is
// too short to tell): for observers that care about a few kinds of records.
uint8_t first_op(std::string_view record);
Status decode_record(std::string_view record, std::vector<Delta>* deltas, RequestId* req = nullptr);

}  // namespace kiseki::ns
