#include "crypto/primitives.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cassert>
#include <cstring>
#include <stdexcept>

namespace kiseki::crypto {
namespace {

const EVP_CIPHER* gcm_cipher() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return c;
}

// One cipher context per thread, reused: EVP_CIPHER_CTX_new per call costs an
// allocation and a provider lookup on the hot path.
EVP_CIPHER_CTX* thread_ctx() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local Holder h;
  return h.ctx;
}

}  // namespace

SecretKey SecretKey::random() {
  SecretKey k;
  random_bytes({k.data(), k.size()});
  return k;
}

void random_bytes(MutableByteSpan out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
}

Status aes256gcm_seal(const SecretKey& key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext,
                      uint8_t* out, uint8_t* tag) {
  assert(nonce.size() == kGcmNonceSize);
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx, gcm_cipher(), key.data(), nonce.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, out + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag) != 1) {
    return make_error(ErrorCode::kIoError, "AES-GCM seal failed");
  }
  return Status::ok();
}

Status aes256gcm_open(const SecretKey& key, ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext,
                      const uint8_t* tag, uint8_t* out) {
  if (nonce.size() != kGcmNonceSize) return invalid_argument("bad GCM nonce size");
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx, gcm_cipher(), key.data(), nonce.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx, out, &len, ciphertext.data(), static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, const_cast<uint8_t*>(tag)) != 1) {
    return make_error(ErrorCode::kIoError, "AES-GCM open failed");
  }
  if (EVP_DecryptFinal_ex(ctx, out + len, &len) != 1) {
    std::memset(out, 0, ciphertext.size());  // never hand out unauthenticated plaintext
    return corruption("AES-GCM authentication failed");
  }
  return Status::ok();
}

// HMAC (RFC 2104) over a SHA-256 implementation fetched once and a digest
// context per thread: OpenSSL's one-shot HMAC() looks the algorithms up on
// every call, which costs more than hashing a short message.
Digest hmac_sha256(ByteSpan key, ByteSpan data) {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder h;
  uint8_t k[64] = {};
  if (key.size() > sizeof(k)) {
    Digest kd = sha256(key);
    std::memcpy(k, kd.data(), kd.size());
    secure_zero(kd.data(), kd.size());
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[64];
  for (size_t i = 0; i < sizeof(pad); ++i) pad[i] = k[i] ^ 0x36;
  Digest inner, d;
  bool ok = EVP_DigestInit_ex2(h.ctx, md, nullptr) == 1 && EVP_DigestUpdate(h.ctx, pad, sizeof(pad)) == 1 &&
            EVP_DigestUpdate(h.ctx, data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(h.ctx, inner.data(), nullptr) == 1;
  for (size_t i = 0; i < sizeof(pad); ++i) pad[i] = k[i] ^ 0x5c;
  ok = ok && EVP_DigestInit_ex2(h.ctx, md, nullptr) == 1 && EVP_DigestUpdate(h.ctx, pad, sizeof(pad)) == 1 &&
       EVP_DigestUpdate(h.ctx, inner.data(), inner.size()) == 1 && EVP_DigestFinal_ex(h.ctx, d.data(), nullptr) == 1;
  secure_zero(k, sizeof(k));
  secure_zero(pad, sizeof(pad));
  secure_zero(inner.data(), inner.size());
  if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
  return d;
}

HmacSha256::HmacSha256(ByteSpan key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  keyed_ = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(keyed_, key.data(), key.size(), params);
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(keyed_); }

Digest HmacSha256::mac(ByteSpan data) const {
  Digest d{};
  EVP_MAC_CTX* c = EVP_MAC_CTX_dup(keyed_);
  size_t len = 0;
  EVP_MAC_update(c, data.data(), data.size());
  EVP_MAC_final(c, d.data(), &len, d.size());
  EVP_MAC_CTX_free(c);
  return d;
}

Digest sha256(ByteSpan data) {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, not per call
  Digest d;
  EVP_Digest(data.data(), data.size(), d.data(), nullptr, md, nullptr);
  return d;
}

std::array<uint8_t, 16> md5(ByteSpan data) {
  std::array<uint8_t, 16> d;
  EVP_Digest(data.data(), data.size(), d.data(), nullptr, EVP_md5(), nullptr);
  return d;
}

void hkdf_sha256(ByteSpan ikm, ByteSpan salt, std::string_view info, MutableByteSpan out) {
  assert(out.size() <= 255 * 32);
  // Extract: PRK = HMAC(salt, IKM). Expand: T(i) = HMAC(PRK, T(i-1) | info | i).
  static const uint8_t kZeroSalt[32] = {};
  Digest prk = hmac_sha256(salt.empty() ? ByteSpan(kZeroSalt, 32) : salt, ikm);
  uint8_t block[32 + 256 + 1];
  assert(info.size() <= 256);
  size_t done = 0;
  Digest t{};
  for (uint8_t i = 1; done < out.size(); ++i) {
    size_t n = 0;
    if (i > 1) { std::memcpy(block, t.data(), 32); n = 32; }
    std::memcpy(block + n, info.data(), info.size());
    n += info.size();
    block[n++] = i;
    t = hmac_sha256(prk, {block, n});
    size_t take = std::min<size_t>(32, out.size() - done);
    std::memcpy(out.data() + done, t.data(), take);
    done += take;
  }
  secure_zero(prk.data(), prk.size());
  secure_zero(t.data(), t.size());
  secure_zero(block, sizeof(block));
}

}  // namespace kiseki::crypto
