// Helpers shared by the object and multipart operations of the Gateway.
#pragma once

#include <array>
#include <map>
#include <set>
#include <vector>

#include "chunk/chunk_store.h"
#include "crypto/md5.h"
#include "gateway/content.h"
#include "gateway/types.h"
#include "namespace/delta.h"

namespace kiseki::gateway {

constexpr int kMaxRetries = 16;

inline std::string md5_hex(const std::array<uint8_t, 16>& d) { return to_hex(d); }

// Incremental MD5 (the S3 ETag of a single-part object): concurrent PUTs share
// the hashing (crypto/md5.h).
using crypto::Md5;

// True if this operation prepared (and so pinned) the chunk.
inline bool is_prepared(const std::vector<chunk::PreparedChunk>& prepared, const ChunkId& id) {
  for (const auto& p : prepared)
    if (p.id == id) return true;
  return false;
}

// One reference per extent; references to chunks this operation prepared are
// fresh (chunk/refs.h), the others (copies) need the chunk still referenced.
inline void add_refs(const std::vector<Extent>& extents, const std::vector<chunk::PreparedChunk>& prepared,
                     ns::Delta* d) {
  std::set<ChunkId> pinned;
  for (const auto& p : prepared) pinned.insert(p.id);
  for (const auto& x : extents) d->refs.push_back({x.chunk, pinned.count(x.chunk) > 0});
}

// What a write answers: the id of the version it made, "null" for a null
// version written into a versioned namespace (objects.cc).
ObjectInfo written(ObjectInfo info, Versioning v);

// True if the inode's content is its object's alone: no other link shares it
// (a directory's object has no other links: ADR 0013).
inline bool owns_content(const ns::Inode& i) { return i.carries_object() || (i.type == FileType::kFile && i.nlink <= 1); }

// True if the object lock forbids removing or rewriting the object at `now_ns`.
inline bool is_locked(const ns::ObjectLock& l, int64_t now_ns) {
  return l.legal_hold || (l.mode != ns::LockMode::kNone && now_ns < l.retain_until_ns);
}

// A body whose MD5 is not the request's Content-MD5 (the S3 error BadDigest).
inline Status bad_digest() {
  return invalid_argument("BadDigest: The Content-MD5 you specified did not match what we received.");
}

inline void add_unrefs(const std::vector<Extent>& extents, ns::Delta* d) {
  for (const auto& x : extents) d->unrefs.push_back(x.chunk);
}

}  // namespace kiseki::gateway
