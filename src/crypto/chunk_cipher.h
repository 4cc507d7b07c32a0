// System-layer sealing of chunks. Each chunk is sealed with AES-256-GCM under
//   dek   = HKDF-SHA256(master key of epoch, salt = chunk id, "kiseki-chunk-dek-v1")
//   nonce = HKDF-SHA256(master key of epoch, salt = chunk id, "kiseki-chunk-nonce-v1")
// so identical content seals to identical bytes on every replica.
//
// Sealed form (docs/formats.md):  header(8) · ciphertext · tag(16)
//   header = version u8 (1) · algorithm u8 (1 = AES-256-GCM) · reserved u16 · epoch u32 BE
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

class ChunkCipher {
 public:
  explicit ChunkCipher(const KeyManager* keys) : keys_(keys) {}

  // Seals `plaintext` into out[0 .. plaintext.size() + kSealOverhead).
  Status seal(const ChunkId& id, ByteSpan plaintext, uint8_t* out) const;
  // Opens a sealed chunk into out[0 .. sealed.size() - kSealOverhead).
  Status open(const ChunkId& id, ByteSpan sealed, uint8_t* out) const;

 private:
  const KeyManager* keys_;
};

// Chunk id: HMAC-SHA256(dedup key, plaintext).
ChunkId compute_chunk_id(const SecretKey& dedup_key, ByteSpan plaintext);

// Tenant-layer sealing of small metadata payloads (layouts, inline data, user
// metadata) under a tenant key, with a random nonce:  nonce(12) · ciphertext · tag(16).
constexpr size_t kTenantSealOverhead = 12 + 16;
Status tenant_seal(const SecretKey& kek, ByteSpan aad, ByteSpan plaintext, std::string* out);
Status tenant_open(const SecretKey& kek, ByteSpan aad, ByteSpan sealed, std::string* out);

}  // namespace kiseki::crypto
