#include "crypto/chunk_cipher.h"

#include <cstring>

#include "crypto/key_manager.h"
#include "crypto/nonce.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

constexpr uint8_t kVersion = 2;
constexpr uint8_t kAlgAes256Gcm = 1;

struct Derived {
  SecretKey dek;
  uint8_t nonce[kGcmNonceSize];
  ~Derived() { secure_zero(nonce, sizeof(nonce)); }
};

void derive(const SecretKey& master, const SecretKey& domain_seal, const ChunkId& id, Derived* d) {
  uint8_t ikm[2 * kKeySize];
  std::memcpy(ikm, master.data(), kKeySize);
  std::memcpy(ikm + kKeySize, domain_seal.data(), kKeySize);
  hkdf_sha256({ikm, sizeof(ikm)}, id.bytes, "kiseki-chunk-dek-v2", {d->dek.data(), d->dek.size()});
  hkdf_sha256({ikm, sizeof(ikm)}, id.bytes, "kiseki-chunk-nonce-v2", {d->nonce, kGcmNonceSize});
  secure_zero(ikm, sizeof(ikm));
}

Status check_domain(const DomainKeys& domain, const ChunkId& id) {
  if (domain_of(id) == domain.domain) return Status::ok();
  return invalid_argument("chunk " + id.hex() + " is not of dedup domain " + std::to_string(domain.domain));
}

void make_aad(const uint8_t* header, const ChunkId& id, uint8_t* aad) {
  std::memcpy(aad, header, kSealHeaderSize);
  std::memcpy(aad + kSealHeaderSize, id.bytes.data(), 32);
}

}  // namespace

DomainKeys derive_domain_keys(DomainId domain, const SecretKey& root) {
  DomainKeys k;
  k.domain = domain;
  hkdf_sha256(root.span(), {}, "kiseki-dedup-v1", {k.dedup.data(), k.dedup.size()});
  hkdf_sha256(root.span(), {}, "kiseki-domain-seal-v1", {k.seal.data(), k.seal.size()});
  return k;
}

Status ChunkCipher::seal(const DomainKeys& domain, const ChunkId& id, ByteSpan plaintext, uint8_t* out) const {
  KISEKI_TRY(check_domain(domain, id));
  uint32_t epoch = keys_->current_epoch();
  KISEKI_ASSIGN_OR_RETURN(SecretKey master, keys_->master_key(epoch));
  out[0] = kVersion;
  out[1] = kAlgAes256Gcm;
  out[2] = out[3] = 0;
  put_be32(out + 4, epoch);
  Derived d;
  derive(master, domain.seal, id, &d);
  uint8_t aad[kSealHeaderSize + 32];
  make_aad(out, id, aad);
  return aes256gcm_seal(d.dek, {d.nonce, kGcmNonceSize}, {aad, sizeof(aad)}, plaintext,
                        out + kSealHeaderSize, out + kSealHeaderSize + plaintext.size());
}

Status ChunkCipher::open(const DomainKeys& domain, const ChunkId& id, ByteSpan sealed, uint8_t* out) const {
  KISEKI_TRY(check_domain(domain, id));
  if (sealed.size() < kSealOverhead) return corruption("sealed chunk shorter than its header");
  if (sealed[0] != kVersion || sealed[1] != kAlgAes256Gcm)
    return corruption("sealed chunk has an unknown format version or algorithm");
  uint32_t epoch = get_be32(sealed.data() + 4);
  auto master = keys_->master_key(epoch);
  if (!master) return corruption("sealed chunk names unknown key epoch " + std::to_string(epoch));
  Derived d;
  derive(*master, domain.seal, id, &d);
  uint8_t aad[kSealHeaderSize + 32];
  make_aad(sealed.data(), id, aad);
  size_t n = sealed.size() - kSealOverhead;
  return aes256gcm_open(d.dek, {d.nonce, kGcmNonceSize}, {aad, sizeof(aad)},
                        sealed.subspan(kSealHeaderSize, n), sealed.data() + kSealHeaderSize + n, out);
}

ChunkId compute_chunk_id(const DomainKeys& keys, ByteSpan plaintext) {
  ChunkId id;
  id.bytes = hmac_sha256(keys.dedup.span(), plaintext);
  put_be64(id.bytes.data(), keys.domain);
  return id;
}

Status tenant_seal(const SecretKey& kek, ByteSpan aad, ByteSpan plaintext, std::string* out) {
  out->resize(plaintext.size() + kTenantSealOverhead);
  auto* p = reinterpret_cast<uint8_t*>(out->data());
  next_gcm_nonce({p, kGcmNonceSize});
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
