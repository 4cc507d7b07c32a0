#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include <openssl/evp.h>

#include "crypto/chunk_cipher.h"
#include "crypto/key_manager.h"
#include "crypto/primitives.h"
#include "support/temp_dir.h"

namespace kiseki::crypto {

static Bytes hex(std::string_view h) {
  Bytes b;
  EXPECT_TRUE(from_hex(h, &b));
  return b;
}

TEST(Primitives, HkdfRfc5869Case1) {
  Bytes ikm(22, 0x0b), salt = hex("000102030405060708090a0b0c"), info = hex("f0f1f2f3f4f5f6f7f8f9");
  uint8_t okm[42];
  hkdf_sha256(ikm, salt, as_string_view(info), {okm, 42});
  EXPECT_EQ(to_hex({okm, 42}),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Primitives, HmacRfc4231Case2) {
  auto d = hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(to_hex(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Primitives, Md5AndSha256) {
  EXPECT_EQ(to_hex(md5(as_bytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(as_bytes(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // FIPS 180-2's two-block message.
  EXPECT_EQ(to_hex(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// NIST GCM test case 14 (AES-256, zero key and IV, one zero block).
TEST(Primitives, AesGcmVector) {
  SecretKey key;
  Bytes nonce(12, 0), plain(16, 0), ct(16);
  uint8_t tag[16];
  ASSERT_TRUE(aes256gcm_seal(key, nonce, {}, plain, ct.data(), tag).is_ok());
  EXPECT_EQ(to_hex(ct), "cea7403d4d606b6e074ec5d3baf39d18");
  EXPECT_EQ(to_hex({tag, 16}), "d0d1c8a799996bf0265b98b5d48ab919");
  Bytes back(16);
  ASSERT_TRUE(aes256gcm_open(key, nonce, {}, ct, tag, back.data()).is_ok());
  EXPECT_EQ(back, plain);
  tag[0] ^= 1;
  EXPECT_EQ(aes256gcm_open(key, nonce, {}, ct, tag, back.data()).code(), ErrorCode::kCorruption);
}

// A thread's context keeps the last key's schedule and sets only the nonce
// when the key repeats: every seal and open, with the key repeated, changed and
// repeated again, and after a failed open, matches a context set up afresh.
TEST(Primitives, AesGcmReusedKeyMatchesAFreshContext) {
  auto fresh_seal = [](const SecretKey& k, const Bytes& nonce, const Bytes& aad, const Bytes& plain, Bytes* ct,
                       Bytes* tag) {
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    int len = 0;
    ct->resize(plain.size());
    tag->resize(16);
    ASSERT_EQ(EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), k.data(), nonce.data(), nullptr), 1);
    ASSERT_EQ(EVP_EncryptUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
    ASSERT_EQ(EVP_EncryptUpdate(c, ct->data(), &len, plain.data(), static_cast<int>(plain.size())), 1);
    ASSERT_EQ(EVP_EncryptFinal_ex(c, ct->data() + len, &len), 1);
    ASSERT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag->data()), 1);
    EVP_CIPHER_CTX_free(c);
  };
  SecretKey k1 = SecretKey::random(), k2 = SecretKey::random();
  Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const SecretKey* order[] = {&k1, &k1, &k2, &k1, &k1, &k2, &k2};
  for (int i = 0; i < 7; ++i) {
    const SecretKey& k = *order[i];
    Bytes nonce(12, static_cast<uint8_t>(i + 1)), plain(1000 + i, static_cast<uint8_t>(7 * i)), want_ct, want_tag;
    fresh_seal(k, nonce, aad, plain, &want_ct, &want_tag);
    Bytes ct(plain.size()), tag(16), back(plain.size());
    ASSERT_TRUE(aes256gcm_seal(k, nonce, aad, plain, ct.data(), tag.data()).is_ok());
    EXPECT_EQ(ct, want_ct) << i;
    EXPECT_EQ(tag, want_tag) << i;
    if (i == 4) {  // a failed open, then the same key again
      tag[3] ^= 1;
      EXPECT_EQ(aes256gcm_open(k, nonce, aad, ct, tag.data(), back.data()).code(), ErrorCode::kCorruption);
      tag[3] ^= 1;
    }
    for (int twice = 0; twice < 2; ++twice) {
      std::fill(back.begin(), back.end(), 0);
      ASSERT_TRUE(aes256gcm_open(k, nonce, aad, ct, tag.data(), back.data()).is_ok()) << i;
      EXPECT_EQ(back, plain) << i;
    }
    if (i == 2) {
      const SecretKey& other = &k == &k1 ? k2 : k1;
      EXPECT_FALSE(aes256gcm_open(other, nonce, aad, ct, tag.data(), back.data()).is_ok()) << i;
    }
  }
}

class KeysTest : public ::testing::Test {
 protected:
  kiseki::testing::TempDir dir_;
};

TEST_F(KeysTest, MasterKeyPersistsWithMode0600) {
  auto km = FileKeyManager::open(dir_.path() + "/keys");
  ASSERT_TRUE(km.is_ok());
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/keys/master").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  SecretKey k1 = *(*km)->master_key(1);
  auto again = FileKeyManager::open(dir_.path() + "/keys");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(to_hex((*again)->master_key(1)->span()), to_hex(k1.span()));
  EXPECT_EQ((*again)->master_key(7).code(), ErrorCode::kNotFound);
}

TEST_F(KeysTest, ChunkSealIsDeterministicAndAuthenticated) {
  auto km = *FileKeyManager::open(dir_.path() + "/keys");
  ChunkCipher cipher(km.get());
  DomainKeys dom = derive_domain_keys(7, SecretKey::random());
  std::string data = kiseki::testing::random_bytes(100000, 1);
  ChunkId id = compute_chunk_id(dom, as_bytes(data));
  EXPECT_EQ(domain_of(id), 7u);
  Bytes a(data.size() + kSealOverhead), b(a.size()), out(data.size());
  ASSERT_TRUE(cipher.seal(dom, id, as_bytes(data), a.data()).is_ok());
  ASSERT_TRUE(cipher.seal(dom, id, as_bytes(data), b.data()).is_ok());
  EXPECT_EQ(a, b) << "identical content must seal to identical bytes";
  ASSERT_TRUE(cipher.open(dom, id, a, out.data()).is_ok());
  EXPECT_EQ(as_string_view(out), data);
  // Any flipped bit (header, ciphertext, tag) or a different chunk id is an error.
  for (size_t pos : {size_t{4}, size_t{9}, a.size() / 2, a.size() - 1}) {
    Bytes bad = a;
    bad[pos] ^= 0x10;
    EXPECT_EQ(cipher.open(dom, id, bad, out.data()).code(), ErrorCode::kCorruption) << pos;
  }
  ChunkId other = id;
  other.bytes[9] ^= 1;
  EXPECT_EQ(cipher.open(dom, other, a, out.data()).code(), ErrorCode::kCorruption);
  // The master key alone does not open it: another domain key of the same id fails.
  DomainKeys impostor = derive_domain_keys(7, SecretKey::random());
  EXPECT_EQ(cipher.open(impostor, id, a, out.data()).code(), ErrorCode::kCorruption);
  // Nor is a chunk opened or sealed under a domain it is not of.
  DomainKeys elsewhere = derive_domain_keys(8, SecretKey::random());
  EXPECT_EQ(cipher.open(elsewhere, id, a, out.data()).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(cipher.seal(elsewhere, id, as_bytes(data), b.data()).code(), ErrorCode::kInvalidArgument);
}

TEST_F(KeysTest, RotationKeepsOldEpochsReadable) {
  auto km = *FileKeyManager::open(dir_.path() + "/keys");
  ChunkCipher cipher(km.get());
  DomainKeys dom = derive_domain_keys(kSharedDomain, SecretKey::random());
  ChunkId id{};
  std::string data = "epoch one data";
  Bytes sealed(data.size() + kSealOverhead), out(data.size());
  ASSERT_TRUE(cipher.seal(dom, id, as_bytes(data), sealed.data()).is_ok());
  ASSERT_TRUE(km->rotate().is_ok());
  EXPECT_EQ(km->current_epoch(), 2u);
  auto reopened = *FileKeyManager::open(dir_.path() + "/keys");
  ChunkCipher c2(reopened.get());
  ASSERT_TRUE(c2.open(dom, id, sealed, out.data()).is_ok());
  EXPECT_EQ(as_string_view(out), data);
}

TEST_F(KeysTest, TenantKeyShredIsPermanent) {
  auto km = *FileKeyManager::open(dir_.path() + "/keys");
  EXPECT_EQ(km->tenant_kek(5).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(km->create_tenant_key(5).is_ok());
  EXPECT_EQ(km->create_tenant_key(5).code(), ErrorCode::kExists);
  SecretKey kek = *km->tenant_kek(5);
  auto other = *FileKeyManager::open(dir_.path() + "/keys");
  EXPECT_EQ(to_hex(other->tenant_kek(5)->span()), to_hex(kek.span()));
  ASSERT_TRUE(km->shred_tenant_key(5).is_ok());
  EXPECT_EQ(km->tenant_kek(5).code(), ErrorCode::kCryptoShredded);
  auto fresh = *FileKeyManager::open(dir_.path() + "/keys");
  EXPECT_EQ(fresh->tenant_kek(5).code(), ErrorCode::kCryptoShredded);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/keys/tenant-5"));
}

TEST_F(KeysTest, TenantSealRoundTrip) {
  SecretKey k = SecretKey::random();
  std::string sealed, out;
  ASSERT_TRUE(tenant_seal(k, as_bytes("aad"), as_bytes("layout"), &sealed).is_ok());
  ASSERT_TRUE(tenant_open(k, as_bytes("aad"), as_bytes(sealed), &out).is_ok());
  EXPECT_EQ(out, "layout");
  EXPECT_EQ(tenant_open(k, as_bytes("other"), as_bytes(sealed), &out).code(), ErrorCode::kCorruption);
  EXPECT_EQ(tenant_open(SecretKey::random(), as_bytes("aad"), as_bytes(sealed), &out).code(),
            ErrorCode::kCorruption);
  EXPECT_EQ(tenant_open(k, as_bytes("aad"), as_bytes("short"), &out).code(), ErrorCode::kCorruption);
}

TEST(Hmac, KeyedContextMatchesOneShot) {
  std::string key(32, '\x0b');
  HmacSha256 keyed(as_bytes(key));
  for (size_t n : {0, 1, 36, 64, 65, 1000}) {
    std::string data(n, 'd');
    EXPECT_EQ(keyed.mac(as_bytes(data)), hmac_sha256(as_bytes(key), as_bytes(data))) << n;
  }
  // RFC 4231 test case 2: key "Jefe"
  HmacSha256 jefe(as_bytes(std::string("Jefe")));
  EXPECT_EQ(to_hex(jefe.mac(as_bytes(std::string("what do ya want for nothing?")))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 6: a key longer than SHA-256's block is hashed first.
  std::string long_key(131, '\xaa');
  std::string msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  const char* want = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  EXPECT_EQ(to_hex(HmacSha256(as_bytes(long_key)).mac(as_bytes(msg))), want);
  EXPECT_EQ(to_hex(hmac_sha256(as_bytes(long_key), as_bytes(msg))), want);
  // Many threads on one keyed instance.
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string data(static_cast<size_t>((i * 7 + t) % 200), static_cast<char>(i));
        if (keyed.mac(as_bytes(data)) != hmac_sha256(as_bytes(key), as_bytes(data))) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace kiseki::crypto
