// One registry of column families and key layouts, so key spaces never collide.
// Every integer in a key is big-endian so that range scans give directory and
// S3 byte order. docs/formats.md describes each value.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/ids.h"

namespace kiseki::meta {

enum class Cf : uint8_t {
  kDefault = 0,
  kSystem,      // "next_ino", "next_tenant", … → u64 counters
  kTenants,     // tenant id → tenant record;   "name:" name → tenant id
  kNamespaces,  // ns id → namespace record;    tenant · name → ns id
  kAccessKeys,  // access key id → (tenant, sealed secret)
  kInodes,      // ns · ino → inode record
  kDentries,    // ns · parent ino · name → (ino, type, cookie)
  kDirCookies,  // ns · parent ino · cookie → ino · type · name (readdir order, stable cookies)
  kChunkRefs,   // chunk id → reference count (replicated: every replica agrees)
  kMultipart,   // ns · upload id → upload record; ns · upload id · part → part record
  kRequests,    // client · sequence → first result; "Q" · order → client · sequence
  kChunkLocs,   // NODE-LOCAL: chunk id → (segment, offset, length) on this node's disk
  kCount,
};

constexpr std::array<std::string_view, static_cast<size_t>(Cf::kCount)> kCfNames = {
    "default", "system", "tenants", "namespaces", "access_keys", "inodes",
    "dentries", "dircookies", "chunk_refs", "multipart", "requests", "chunk_locations"};

// True for the column families that every replica of a shard holds identically
// (what the delta log's apply writes). The others are this node's own state:
// rebuildable from its disks, never in a delta, never compared between replicas.
constexpr bool is_replicated(Cf c) { return c != Cf::kChunkLocs && c != Cf::kDefault; }

// The on-disk format of the metadata store (docs/formats.md). A data directory
// written by another format is refused at open with a clear message.
constexpr uint64_t kFormatVersion = 3;
constexpr std::string_view kFormatKey = "format_version";

inline std::string key_u64(uint64_t a) {
  std::string k;
  Encoder(&k).u64(a);
  return k;
}
inline std::string key_u64_u64(uint64_t a, uint64_t b) {
  std::string k;
  Encoder(&k).u64(a).u64(b);
  return k;
}
inline std::string inode_key(NamespaceId ns, InodeId ino) { return key_u64_u64(ns, ino); }
inline std::string dentry_prefix(NamespaceId ns, InodeId parent) { return key_u64_u64(ns, parent); }
inline std::string dentry_key(NamespaceId ns, InodeId parent, std::string_view name) {
  return dentry_prefix(ns, parent).append(name);
}
inline std::string dircookie_key(NamespaceId ns, InodeId parent, uint64_t cookie) {
  std::string k = dentry_prefix(ns, parent);
  Encoder(&k).u64(cookie);
  return k;
}

}  // namespace kiseki::meta
