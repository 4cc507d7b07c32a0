// Thin wrappers over OpenSSL 3, with no allocation per call: AES-256-GCM,
// HMAC-SHA256 (on OpenSSL's SHA-256 block functions), HKDF-SHA256, SHA-256 and
// MD5. OpenSSL picks AES-NI/VAES and SHA-NI at run time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::crypto {

constexpr size_t kGcmNonceSize = 12;
constexpr size_t kGcmTagSize = 16;
using Digest = std::array<uint8_t, 32>;

// Writes ciphertext (same length as plaintext) to `out` and the tag to `tag`.
Status aes256gcm_seal(const SecretKey& key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext,
                      uint8_t* out, uint8_t* tag);
// Returns kCorruption if the tag does not authenticate the ciphertext and aad.
Status aes256gcm_open(const SecretKey& key, ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext,
                      const uint8_t* tag, uint8_t* out);

Digest hmac_sha256(ByteSpan key, ByteSpan data);

class HmacPads;  // primitives.cc

// HMAC-SHA256 under one key, keyed once: the SHA-256 states after the key's
// inner and outer pads are kept, so a mac() is the message's blocks and two
// final blocks (about 5x cheaper than a copied EVP_MAC context for a 40-byte
// message: NFS file handles, one per READDIRPLUS entry).
class HmacSha256 {
 public:
  explicit HmacSha256(ByteSpan key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  Digest mac(ByteSpan data) const;  // safe to call from many threads

 private:
  std::unique_ptr<HmacPads> pads_;
};
Digest sha256(ByteSpan data);
std::array<uint8_t, 16> md5(ByteSpan data);

// RFC 5869 HKDF-SHA256 (extract then expand), out.size() <= 255*32.
void hkdf_sha256(ByteSpan ikm, ByteSpan salt, std::string_view info, MutableByteSpan out);

void random_bytes(MutableByteSpan out);

}  // namespace kiseki::crypto
