#include "crypto/chunk_cipher.h"

#include <cstring>

#include "crypto/key_manager.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kAlgAes256Gcm = 1;

struct Derived {
  SecretKey dek;
  uint8_t nonce[kGcmNonceSize];
  ~Derived() { secure_zero(nonce, sizeof(nonce)); }
};

void derive(const SecretKey& master, const ChunkId& id, Derived* d) {
  hkdf_sha256(master.span(), id.bytes, "kiseki-chunk-dek-v1", {d->dek.data(), d->dek.size()});
  hkdf_sha256(master.span(), id.bytes, "kiseki-chunk-nonce-v1", {d->nonce, kGcmNonceSize});
}

void make_aad(const uint8_t* header, const ChunkId& id, uint8_t* aad) {
  std::memcpy(aad, header, kSealHeaderSize);
  std::memcpy(aad + kSealHeaderSize, id.bytes.data(), 32);
}

}  // namespace

Status ChunkCipher::seal(const ChunkId& id, ByteSpan plaintext, uint8_t* out) const {
  uint32_t epoch = keys_->current_epoch();
  KISEKI_ASSIGN_OR_RETURN(SecretKey master, keys_->master_key(epoch));
  out[0] = kVersion;
  out[1] = kAlgAes256Gcm;
  out[2] = out[3] = 0;
  put_be32(out + 4, epoch);
  Derived d;
  derive(master, id, &d);
  uint8_t aad[kSealHeaderSize + 32];
  make_aad(out, id, aad);
  return aes256gcm_seal(d.dek, {d.nonce, kGcmNonceSize}, {aad, sizeof(aad)}, plaintext,
                        out + kSealHeaderSize, out + kSealHeaderSize + plaintext.size());
}

Status ChunkCipher::open(const ChunkId& id, ByteSpan sealed, uint8_t* out) const {
  if (sealed.size() < kSealOverhead) return corruption("sealed chunk shorter than its header");
  if (sealed[0] != kVersion || sealed[1] != kAlgAes256Gcm)
    return corruption("sealed chunk has an unknown format version or algorithm");
  uint32_t epoch = get_be32(sealed.data() + 4);
  auto master = keys_->master_key(epoch);
  if (!master) return corruption("sealed chunk names unknown key epoch " + std::to_string(epoch));
  Derived d;
  derive(*master, id, &d);
  uint8_t aad[kSealHeaderSize + 32];
  make_aad(sealed.data(), id, aad);
  size_t n = sealed.size() - kSealOverhead;
  return aes256gcm_open(d.dek, {d.nonce, kGcmNonceSize}, {aad, sizeof(aad)},
                        sealed.subspan(kSealHeaderSize, n), sealed.data() + kSealHeaderSize + n, out);
}

ChunkId compute_chunk_id(const SecretKey& dedup_key, ByteSpan plaintext) {
  ChunkId id;
  id.bytes = hmac_sha256(dedup_key.span(), plaintext);
  return id;
}

Status tenant_seal(const SecretKey& kek, ByteSpan aad, ByteSpan plaintext, std::string* out) {
  out->resize(plaintext.size() + kTenantSealOverhead);
  auto* p = reinterpret_cast<uint8_t*>(out->data());
  random_bytes({p, kGcmNonceSize});
  return aes256gcm_seal(kek, {p, kGcmNonceSize}, aad, plaintext, p + kGcmNonceSize,
                        p + kGcmNonceSize + plaintext.size());
}

Status tenant_open(const SecretKey& kek, ByteSpan aad, ByteSpan sealed, std::string* out) {
  if (sealed.size() < kTenantSealOverhead) return corruption("tenant-sealed payload too short");
  size_t n = sealed.size() - kTenantSealOverhead;
  out->resize(n);
  return aes256gcm_open(kek, sealed.subspan(0, kGcmNonceSize), aad,
                        sealed.subspan(kGcmNonceSize, n), sealed.data() + kGcmNonceSize + n,
                        reinterpret_cast<uint8_t*>(out->data()));
}

}  // namespace kiseki::crypto
