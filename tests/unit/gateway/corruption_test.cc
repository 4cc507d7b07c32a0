// Real corruption on disk: a flipped bit in a segment file is a corruption error
// through the Gateway (never wrong data), the scrubber names it, and objects
// that do not share the damaged chunk still read.
#include <filesystem>

#include "chunk/chunk_store.h"
#include "fixture.h"
#include "support/flip_byte.h"

namespace kiseki::gateway {

TEST_F(GatewayTest, FlippedBitOnDiskIsCorruptionNeverWrongData) {
  std::string a = kiseki::testing::random_bytes(300000, 1), b = kiseki::testing::random_bytes(300000, 2);
  put("a", a);
  put("b", b);
  ASSERT_TRUE(gw_->scrub().problems.empty());
  // Find one chunk through the location table and flip a bit inside its payload.
  chunk::Location loc;
  ASSERT_TRUE(gw_->chunks_for_test()->flush_local().is_ok());
  {
    auto it = gw_->store_for_test()->iterator(meta::Cf::kChunkLocs);
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    ASSERT_TRUE(chunk::decode_location(it->value().ToStringView(), &loc));
  }
  std::string path = dir_.path() + "/chunks/" + chunk::segment_file_name(loc.segment);
  kiseki::testing::flip_byte(path, static_cast<off_t>(loc.offset + chunk::kRecordHeaderSize + loc.length / 2), 0x80);
  // Whichever object holds that chunk now fails with kCorruption; the other reads.
  int corrupt = 0;
  for (auto [key, data] : {std::pair{"a", &a}, std::pair{"b", &b}}) {
    auto r = gw_->get_object(ns_, key, {}, nullptr);
    if (r.is_ok()) {
      EXPECT_EQ(as_string_view(*r), *data) << "a successful read must return the right bytes";
    } else {
      EXPECT_EQ(r.code(), ErrorCode::kCorruption);
      ++corrupt;
    }
  }
  EXPECT_EQ(corrupt, 1);
  auto report = gw_->scrub();
  EXPECT_FALSE(report.problems.empty());
  // After a restart the damage is still reported, not papered over.
  reopen();
  EXPECT_FALSE(gw_->scrub().problems.empty());
}

TEST_F(GatewayTest, ScrubVerifiesTheMetadataFilesToo) {
  for (int i = 0; i < 200; ++i) put("meta/" + std::to_string(i), "small inline object " + std::to_string(i));
  ASSERT_TRUE(gw_->store_for_test()->flush().is_ok());
  EXPECT_TRUE(gw_->scrub().problems.empty());
  std::string sst;
  uint64_t biggest = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/meta"))
    if (e.path().extension() == ".sst" && e.file_size() > biggest) {
      biggest = e.file_size();
      sst = e.path().string();
    }
  ASSERT_FALSE(sst.empty());
  kiseki::testing::flip_byte(sst, static_cast<off_t>(biggest / 4), 0x10);
  auto problems = gw_->scrub().problems;
  ASSERT_FALSE(problems.empty()) << "a damaged SST file is found by scrub";
  EXPECT_NE(problems.back().find("metadata checksums"), std::string::npos) << problems.back();
}

}  // namespace kiseki::gateway
