#include "gateway/content.h"

#include <gtest/gtest.h>

namespace kiseki::gateway {

static Extent ext(uint64_t off, uint32_t len, uint8_t chunk, uint32_t coff = 0) {
  Extent x;
  x.file_offset = off;
  x.length = len;
  x.chunk.bytes[0] = chunk;
  x.chunk_offset = coff;
  return x;
}

TEST(Extents, SpliceInTheMiddleSplitsAndAddsARef) {
  std::vector<Extent> e = {ext(0, 100, 1)};
  splice_extents(&e, 40, 10, {ext(40, 10, 2)});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].length, 40u);
  EXPECT_EQ(e[1].chunk.bytes[0], 2);
  EXPECT_EQ(e[2].file_offset, 50u);
  EXPECT_EQ(e[2].chunk_offset, 50u);
  EXPECT_EQ(e[2].length, 50u);
  std::map<ChunkId, int> d;
  diff_refs({ext(0, 100, 1)}, e, &d);
  ChunkId one, two;
  one.bytes[0] = 1;
  two.bytes[0] = 2;
  EXPECT_EQ(d[one], 1);
  EXPECT_EQ(d[two], 1);
}

TEST(Extents, OverwriteWholeAndAppend) {
  std::vector<Extent> e = {ext(0, 10, 1), ext(10, 10, 2)};
  splice_extents(&e, 0, 20, {ext(0, 20, 3)});
  ASSERT_EQ(e.size(), 1u);
  splice_extents(&e, 100, 5, {ext(100, 5, 4)});  // beyond the end: a hole between
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].file_offset, 100u);
  truncate_extents(&e, 12);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].length, 12u);
}

TEST(Content, RoundTripAndTenantSealing) {
  Content c;
  c.extents = {ext(0, 5, 9, 3)};
  c.etag = "abc";
  c.user_meta["k"] = "v";
  c.headers["Cache-Control"] = "no-cache";
  auto kek = crypto::SecretKey::random();
  std::string sealed;
  ASSERT_TRUE(seal_content(kek, 4, c, &sealed).is_ok());
  Content back;
  ASSERT_TRUE(open_content(kek, 4, sealed, &back).is_ok());
  EXPECT_EQ(back.extents[0].chunk_offset, 3u);
  EXPECT_EQ(back.user_meta["k"], "v");
  EXPECT_EQ(back.headers["Cache-Control"], "no-cache");
  EXPECT_TRUE(back.part_sizes.empty());
  c.part_sizes = {5 << 20, 77};  // the optional tail
  ASSERT_TRUE(seal_content(kek, 4, c, &sealed).is_ok());
  ASSERT_TRUE(open_content(kek, 4, sealed, &back).is_ok());
  EXPECT_EQ(back.part_sizes, (std::vector<uint64_t>{5 << 20, 77}));
  std::string plain = encode_content(c);
  EXPECT_EQ(decode_content(plain.substr(0, plain.size() - 3), &back).code(), ErrorCode::kCorruption);
  EXPECT_EQ(open_content(kek, 5, sealed, &back).code(), ErrorCode::kCorruption)
      << "content sealed for one namespace must not open in another";
}

}  // namespace kiseki::gateway
