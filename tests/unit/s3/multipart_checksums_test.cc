#include "protocols/s3/multipart_checksums.h"

#include <gtest/gtest.h>
#include <isa-l/crc.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "protocols/s3/body.h"
#include "support/temp_dir.h"

namespace kiseki::s3 {

namespace {

std::string b64(uint32_t crc) {
  Bytes b(4);
  put_be32(b.data(), crc);
  return base64_encode(b);
}

uint32_t crc32_of(const std::string& s) {
  return crc32_gzip_refl(0, reinterpret_cast<uint8_t*>(const_cast<char*>(s.data())), s.size());
}

}  // namespace

TEST(MultipartChecksums, CombinedCrcsEqualTheCrcOfTheWhole) {
  std::string a = kiseki::testing::random_bytes(100003, 1), b = kiseki::testing::random_bytes(70001, 2),
              c = kiseki::testing::random_bytes(1, 3);
  EXPECT_EQ(crc32_combine_poly(0xEDB88320u, crc32_of(a), crc32_of(b), b.size()), crc32_of(a + b));
  EXPECT_EQ(crc32_combine_poly(0x82F63B78u, crc32c(a.data(), a.size()), crc32c(b.data(), b.size()), b.size()),
            crc32c((a + b).data(), a.size() + b.size()));
  auto full = full_object_crc("crc32", {{b64(crc32_of(a)), a.size()}, {b64(crc32_of(b)), b.size()}, {b64(crc32_of(c)), 1}});
  ASSERT_TRUE(full.is_ok());
  EXPECT_EQ(*full, b64(crc32_of(a + b + c)));
  auto fullc = full_object_crc("crc32c", {{b64(crc32c(a.data(), a.size())), a.size()}, {b64(crc32c(b.data(), b.size())), b.size()}});
  ASSERT_TRUE(fullc.is_ok());
  EXPECT_EQ(*fullc, b64(crc32c((a + b).data(), a.size() + b.size())));
  EXPECT_FALSE(full_object_crc("sha256", {{b64(1), 1}}).is_ok()) << "a full-object checksum is a CRC";
}

TEST(MultipartChecksums, CompositeIsTheChecksumOfTheChecksums) {
  std::string a = "first part", b = "second part";
  std::string raw;
  for (uint32_t v : {crc32_of(a), crc32_of(b)}) {
    uint8_t be[4];
    put_be32(be, v);
    raw.append(reinterpret_cast<char*>(be), 4);
  }
  auto got = composite_checksum("crc32", {b64(crc32_of(a)), b64(crc32_of(b))});
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(*got, b64(crc32_of(raw)) + "-2");
  EXPECT_FALSE(composite_checksum("crc32", {"not base64!"}).is_ok());
  EXPECT_EQ(checksum_algo("CrC32c"), "crc32c");
  EXPECT_EQ(checksum_algo("crc64nvme"), "");
}

}  // namespace kiseki::s3
