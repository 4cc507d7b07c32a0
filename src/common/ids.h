// Identifiers. Numeric ids are allocated by the metadata store; chunk ids are
// HMAC-SHA256 of the plaintext under a dedup key.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "common/bytes.h"

namespace kiseki {

using TenantId = uint64_t;
using NamespaceId = uint64_t;
using InodeId = uint64_t;
using SegmentId = uint64_t;

constexpr InodeId kInvalidInode = 0;

struct ChunkId {
  std::array<uint8_t, 32> bytes{};

  auto operator<=>(const ChunkId&) const = default;
  std::string hex() const { return to_hex(bytes); }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  static bool from_view(std::string_view s, ChunkId* out) {
    if (s.size() != 32) return false;
    std::memcpy(out->bytes.data(), s.data(), 32);
    return true;
  }
};

// Dedup domains: a chunk id's first 8 bytes (u64 BE) name the domain it belongs
// to: a tenant's own (the tenant's id) or the shared one (crypto/chunk_cipher.h).
using DomainId = uint64_t;
constexpr DomainId kSharedDomain = 0;
inline DomainId domain_of(const ChunkId& id) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | id.bytes[i];
  return v;
}

// Erasure-coded fragments (docs/cluster.md#erasure-coding): a node keeps
// fragment i of a chunk in its chunk store under the chunk's id with byte 0 set
// to 0x80 | i. A chunk id's byte 0 is always 0 (dedup domains are tenant ids,
// far below 2^56), so the two never meet and the chunk's id comes back.
constexpr uint32_t kMaxFragmentIndex = 0x7f;
inline bool is_fragment_id(const ChunkId& key) { return (key.bytes[0] & 0x80) != 0; }
inline uint32_t fragment_index(const ChunkId& key) { return key.bytes[0] & 0x7f; }
inline ChunkId fragment_id(const ChunkId& chunk, uint32_t index) {
  ChunkId f = chunk;
  f.bytes[0] = static_cast<uint8_t>(0x80 | (index & kMaxFragmentIndex));
  return f;
}
// The chunk a stored key is of: itself, or the chunk of a fragment.
inline ChunkId chunk_of(const ChunkId& key) {
  ChunkId c = key;
  if (is_fragment_id(key)) c.bytes[0] = 0;
  return c;
}

// Who asked for a mutation, and which of their requests it is. A mutation with a
// request id applies once: resubmitted (a retry after a timeout, a reconnect, a
// leader change) it gets its first result back (namespace/state_machine.h).
struct RequestId {
  uint64_t client = 0;
  uint64_t seq = 0;
  bool empty() const { return client == 0 && seq == 0; }
  // The id of record `k` (1..15) of a call that submits several: the top four
  // bits of `seq` are reserved for it, so callers keep their ids below 2^60.
  RequestId part(uint64_t k) const { return {client, seq ^ (k << 60)}; }
  auto operator<=>(const RequestId&) const = default;
};

struct ChunkIdHash {
  size_t operator()(const ChunkId& id) const {
    size_t h;  // bytes 8.. are uniformly distributed (0..8 name the dedup domain)
    std::memcpy(&h, id.bytes.data() + 8, sizeof(h));
    return h;
  }
};

}  // namespace kiseki
