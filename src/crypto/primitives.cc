#include "crypto/primitives.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cassert>
#include <cstring>
#include <stdexcept>

namespace kiseki::crypto {
namespace {

const EVP_CIPHER* gcm_cipher() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return c;
}

// One cipher context per thread and direction, reused: EVP_CIPHER_CTX_new per
// call costs an allocation and a provider lookup on the hot path. The context
// keeps the last key's schedule: a call with the same key (a tenant's key
// opens every GET's layout) sets only the nonce.
struct GcmContext {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  SecretKey key;  // the key the schedule in ctx is for, while `keyed`
  bool keyed = false;
  ~GcmContext() { EVP_CIPHER_CTX_free(ctx); }  // cleanses the schedule
  // Whether the context already has `k` (then EVP_*Init_ex2 gets neither the
  // cipher nor the key, and keeps the schedule); remembers `k` if not.
  bool has_key(const SecretKey& k) {
    if (keyed && CRYPTO_memcmp(key.data(), k.data(), k.size()) == 0) return true;
    key = k;
    keyed = true;
    return false;
  }
};

GcmContext& thread_ctx(bool seal) {
  thread_local GcmContext sealing, opening;
  return seal ? sealing : opening;
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
  GcmContext& g = thread_ctx(true);
  EVP_CIPHER_CTX* ctx = g.ctx;
  int len = 0;
  bool again = g.has_key(key);
  if (EVP_EncryptInit_ex2(ctx, again ? nullptr : gcm_cipher(), again ? nullptr : key.data(), nonce.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, out + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag) != 1) {
    g.keyed = false;
    return make_error(ErrorCode::kIoError, "AES-GCM seal failed");
  }
  return Status::ok();
}

Status aes256gcm_open(const SecretKey& key, ByteSpan nonce, ByteSpan aad, ByteSpan ciphertext,
                      const uint8_t* tag, uint8_t* out) {
  if (nonce.size() != kGcmNonceSize) return invalid_argument("bad GCM nonce size");
  GcmContext& g = thread_ctx(false);
  EVP_CIPHER_CTX* ctx = g.ctx;
  int len = 0;
  bool again = g.has_key(key);
  if (EVP_DecryptInit_ex2(ctx, again ? nullptr : gcm_cipher(), again ? nullptr : key.data(), nonce.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx, out, &len, ciphertext.data(), static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, const_cast<uint8_t*>(tag)) != 1) {
    g.keyed = false;
    return make_error(ErrorCode::kIoError, "AES-GCM open failed");
  }
  if (EVP_DecryptFinal_ex(ctx, out + len, &len) != 1) {
    g.keyed = false;
    std::memset(out, 0, ciphertext.size());  // never hand out unauthenticated plaintext
    return corruption("AES-GCM authentication failed");
  }
  return Status::ok();
}

// HMAC (RFC 2104) on OpenSSL's low-level SHA-256 (deprecated, still exported;
// the same assembly, SHA-NI where the CPU has it): the states after the key's
// pads are plain structs, copied per message with no allocation.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
class HmacPads {
 public:
  explicit HmacPads(ByteSpan key) {
    uint8_t k[64] = {};
    if (key.size() > sizeof(k)) {
      SHA256(key.data(), key.size(), k);
    } else if (!key.empty()) {
      std::memcpy(k, key.data(), key.size());
    }
    uint8_t pad[64];
    for (size_t i = 0; i < sizeof(pad); ++i) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&inner_);
    SHA256_Update(&inner_, pad, sizeof(pad));
    for (size_t i = 0; i < sizeof(pad); ++i) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&outer_);
    SHA256_Update(&outer_, pad, sizeof(pad));
    secure_zero(k, sizeof(k));
    secure_zero(pad, sizeof(pad));
  }
  ~HmacPads() {
    secure_zero(&inner_, sizeof(inner_));
    secure_zero(&outer_, sizeof(outer_));
  }
  Digest mac(ByteSpan data) const {
    SHA256_CTX c = inner_;
    Digest in, d;
    SHA256_Update(&c, data.data(), data.size());
    SHA256_Final(in.data(), &c);
    c = outer_;
    SHA256_Update(&c, in.data(), in.size());
    SHA256_Final(d.data(), &c);
    secure_zero(&c, sizeof(c));
    return d;
  }

 private:
  SHA256_CTX inner_, outer_;
};
#pragma GCC diagnostic pop

Digest hmac_sha256(ByteSpan key, ByteSpan data) { return HmacPads(key).mac(data); }

HmacSha256::HmacSha256(ByteSpan key) : pads_(std::make_unique<HmacPads>(key)) {}

HmacSha256::~HmacSha256() = default;

Digest HmacSha256::mac(ByteSpan data) const { return pads_->mac(data); }

// The low-level calls, as HmacPads: EVP_Digest allocates and frees a context
// per call, more than the hash of a short message costs (every SigV4 request
// hashes its canonical request).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Digest sha256(ByteSpan data) {
  SHA256_CTX c;
  Digest d;
  SHA256_Init(&c);
  SHA256_Update(&c, data.data(), data.size());
  SHA256_Final(d.data(), &c);
  return d;
}
#pragma GCC diagnostic pop

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
