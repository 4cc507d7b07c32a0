// Chunk sealing. Every chunk belongs to a dedup domain (a tenant's own, or the
// shared one a tenant may opt into); the domain's id is the first 8 bytes of the
// chunk id, and its keys come from a root key (the tenant's KEK, or the shared
// domain's key) that is destroyed with the tenant. Each chunk is sealed with
// AES-256-GCM under
//   dek   = HKDF-SHA256(master key of epoch · domain seal key, salt = chunk id, "kiseki-chunk-dek-v2")
//   nonce = HKDF-SHA256(master key of epoch · domain seal key, salt = chunk id, "kiseki-chunk-nonce-v2")
// so identical content seals to identical bytes on every replica, and neither
// the master key alone nor the domain key alone opens a chunk (docs/security.md).
//
// Sealed form (docs/formats.md):  header(8) · ciphertext · tag(16)
//   header = version u8 (2) · algorithm u8 (1 = AES-256-GCM) · reserved u16 · epoch u32 BE
// The associated data is header · chunk id, so neither can be swapped.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::crypto {

constexpr size_t kSealHeaderSize = 8;
constexpr size_t kSealOverhead = kSealHeaderSize + 16;

class KeyManager;

// kSharedDomain (common/ids.h) is the domain of every tenant that opts into
// shared dedup; a tenant's own domain has the tenant's id (ids start at 1).

// The keys of one dedup domain, derived from its root key.
struct DomainKeys {
  DomainId domain = kSharedDomain;
  SecretKey dedup;  // HKDF(root, "kiseki-dedup-v1"): chunk ids
  SecretKey seal;   // HKDF(root, "kiseki-domain-seal-v1"): part of every chunk's data key
};
DomainKeys derive_domain_keys(DomainId domain, const SecretKey& root);

// Chunk id: the domain id (u64 BE) · the first 24 bytes of HMAC-SHA256(dedup key,
// plaintext). The prefix makes each domain's chunks one key range.
ChunkId compute_chunk_id(const DomainKeys& keys, ByteSpan plaintext);

class ChunkCipher {
 public:
  explicit ChunkCipher(const KeyManager* keys) : keys_(keys) {}

  // Seals `plaintext` into out[0 .. plaintext.size() + kSealOverhead). The chunk
  // must be of the domain of `domain` (kInvalidArgument otherwise).
  Status seal(const DomainKeys& domain, const ChunkId& id, ByteSpan plaintext, uint8_t* out) const;
  // Opens a sealed chunk into out[0 .. sealed.size() - kSealOverhead).
  Status open(const DomainKeys& domain, const ChunkId& id, ByteSpan sealed, uint8_t* out) const;

 private:
  const KeyManager* keys_;
};

// Tenant-layer sealing of small metadata payloads (layouts, inline data, user
// metadata) under a tenant key, with a never-repeated nonce (next_gcm_nonce):
// nonce(12) · ciphertext · tag(16).
constexpr size_t kTenantSealOverhead = 12 + 16;
Status tenant_seal(const SecretKey& kek, ByteSpan aad, ByteSpan plaintext, std::string* out);
Status tenant_open(const SecretKey& kek, ByteSpan aad, ByteSpan sealed, std::string* out);

}  // namespace kiseki::crypto
