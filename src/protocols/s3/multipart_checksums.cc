#include "protocols/s3/multipart_checksums.h"

#include <openssl/evp.h>

#include <isa-l/crc.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/text.h"
#include "protocols/s3/body.h"

namespace kiseki::s3 {

namespace {

uint32_t gf2_times(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, ++mat)
    if (vec & 1) sum ^= *mat;
  return sum;
}

void gf2_square(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = gf2_times(mat, mat[n]);
}

Bytes be32(uint32_t v) {
  Bytes b(4);
  put_be32(b.data(), v);
  return b;
}

}  // namespace

std::string checksum_algo(std::string_view name) {
  std::string l = ascii_lower(name);
  return l == "crc32" || l == "crc32c" || l == "sha1" || l == "sha256" ? l : "";
}

std::string checksum_algo_upper(std::string_view algo) {
  std::string u(algo);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return u;
}

// The operator that appends `len_b` zero bits to a CRC, applied by squaring
// (zlib's crc32_combine, for any reflected polynomial).
uint32_t crc32_combine_poly(uint32_t poly, uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  if (len_b == 0) return crc_a;
  uint32_t even[32], odd[32];
  odd[0] = poly;
  for (uint32_t n = 1, row = 1; n < 32; ++n, row <<= 1) odd[n] = row;
  gf2_square(even, odd);  // two zero bits
  gf2_square(odd, even);  // four
  do {
    gf2_square(even, odd);  // the first pass: one zero byte
    if (len_b & 1) crc_a = gf2_times(even, crc_a);
    len_b >>= 1;
    if (!len_b) break;
    gf2_square(odd, even);
    if (len_b & 1) crc_a = gf2_times(odd, crc_a);
    len_b >>= 1;
  } while (len_b);
  return crc_a ^ crc_b;
}

Result<std::string> composite_checksum(std::string_view algo, const std::vector<std::string>& parts_b64) {
  Bytes all;
  for (const auto& p : parts_b64) {
    Bytes raw;
    if (!base64_decode(p, &raw)) return invalid_argument("InvalidPart: a part's checksum is not base64");
    all.insert(all.end(), raw.begin(), raw.end());
  }
  Bytes digest;
  if (algo == "crc32") {
    digest = be32(crc32_gzip_refl(0, all.data(), all.size()));
  } else if (algo == "crc32c") {
    digest = be32(crc32c(all.data(), all.size(), 0));
  } else {
    const EVP_MD* md = algo == "sha1" ? EVP_sha1() : algo == "sha256" ? EVP_sha256() : nullptr;
    if (!md) return invalid_argument("InvalidRequest: unknown checksum algorithm " + std::string(algo));
    digest.resize(EVP_MAX_MD_SIZE);
    unsigned n = 0;
    if (EVP_Digest(all.data(), all.size(), digest.data(), &n, md, nullptr) != 1) return corruption("digest failed");
    digest.resize(n);
  }
  return base64_encode(digest) + "-" + std::to_string(parts_b64.size());
}

Result<std::string> full_object_crc(std::string_view algo, const std::vector<std::pair<std::string, uint64_t>>& parts) {
  uint32_t poly;
  if (algo == "crc32") poly = 0xEDB88320u;
  else if (algo == "crc32c") poly = 0x82F63B78u;
  else return invalid_argument("InvalidRequest: a FULL_OBJECT checksum is a CRC (CRC32 or CRC32C)");
  uint32_t crc = 0;
  bool first = true;
  for (const auto& [b64, size] : parts) {
    Bytes raw;
    if (!base64_decode(b64, &raw) || raw.size() != 4) return invalid_argument("InvalidPart: a part's CRC is not 4 bytes");
    uint32_t c = get_be32(raw.data());
    crc = first ? c : crc32_combine_poly(poly, crc, c, size);
    first = false;
  }
  return base64_encode(be32(crc));
}

}  // namespace kiseki::s3
