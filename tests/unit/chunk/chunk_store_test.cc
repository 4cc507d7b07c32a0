#include "chunk/chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/key_manager.h"
#include "support/temp_dir.h"

namespace kiseki::chunk {

class ChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    chunks_.reset();
    segments_.reset();
    meta_.reset();
    keys_ = *crypto::FileKeyManager::open(dir_.path() + "/keys");
    meta_ = *meta::Store::open(dir_.path() + "/meta");
    SegmentStoreOptions so;
    so.segment_bytes = 1 << 20;
    segments_ = *SegmentStore::open(dir_.path() + "/chunks", so);
    chunks_ = std::make_unique<ChunkStore>(meta_.get(), segments_.get(), keys_.get());
  }
  ChunkId put(const std::string& data) {
    ChunkId id = crypto::compute_chunk_id(dedup_, as_bytes(data));
    auto p = chunks_->prepare(id, as_bytes(data));
    EXPECT_TRUE(p.is_ok());
    EXPECT_TRUE(chunks_->sync({*p}).is_ok());
    rocksdb::WriteBatchWithIndex wb;
    meta::Txn txn(meta_.get(), &wb);
    EXPECT_TRUE(apply_ref(txn, id, p->written).is_ok());
    EXPECT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
    return id;
  }
  std::string segment_path(SegmentId id) { return dir_.path() + "/chunks/" + segment_file_name(id); }

  kiseki::testing::TempDir dir_;
  crypto::SecretKey dedup_ = crypto::SecretKey::random();
  std::unique_ptr<crypto::FileKeyManager> keys_;
  std::unique_ptr<meta::Store> meta_;
  std::unique_ptr<SegmentStore> segments_;
  std::unique_ptr<ChunkStore> chunks_;
};

TEST_F(ChunkStoreTest, PutGetAndDedup) {
  std::string data = kiseki::testing::random_bytes(70000, 3);
  ChunkId id = put(data);
  Bytes out;
  ASSERT_TRUE(chunks_->read(id, &out).is_ok());
  EXPECT_EQ(as_string_view(out), data);
  uint64_t size = segments_->segment_size(segments_->active_segment());
  ChunkId again = put(data);  // dedup hit: no new bytes, one more reference
  EXPECT_EQ(again, id);
  EXPECT_EQ(segments_->segment_size(segments_->active_segment()), size);
  EXPECT_EQ(lookup(*meta_, id)->refs, 2u);
}

TEST_F(ChunkStoreTest, RefsAndUnrefsTrackLiveBytes) {
  ChunkId id = put("some chunk bytes");
  auto e = *lookup(*meta_, id);
  EXPECT_EQ(segment_live_bytes(*meta_, e.loc.segment), e.loc.record_size());
  rocksdb::WriteBatchWithIndex wb;
  meta::Txn txn(meta_.get(), &wb);
  ASSERT_TRUE(apply_unref(txn, id).is_ok());
  ASSERT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
  EXPECT_EQ(lookup(*meta_, id).code(), ErrorCode::kNotFound);
  EXPECT_EQ(segment_live_bytes(*meta_, e.loc.segment), 0u);
  // A reference without a written copy to a chunk that is gone is a conflict.
  rocksdb::WriteBatchWithIndex wb2;
  meta::Txn txn2(meta_.get(), &wb2);
  EXPECT_EQ(apply_ref(txn2, id, std::nullopt).code(), ErrorCode::kConflict);
}

TEST_F(ChunkStoreTest, FlippedBitIsCorruptionAndScrubReportsIt) {
  std::string data = kiseki::testing::random_bytes(50000, 9);
  ChunkId id = put(data);
  ChunkId other = put(kiseki::testing::random_bytes(50000, 10));
  auto e = *lookup(*meta_, id);
  EXPECT_TRUE(chunks_->scrub().problems.empty());
  // Flip one bit in the middle of the payload, on disk.
  int fd = ::open(segment_path(e.loc.segment).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  off_t pos = static_cast<off_t>(e.loc.offset + kRecordHeaderSize + 20000);
  uint8_t b;
  ASSERT_EQ(::pread(fd, &b, 1, pos), 1);
  b ^= 0x04;
  ASSERT_EQ(::pwrite(fd, &b, 1, pos), 1);
  ::close(fd);
  Bytes out;
  EXPECT_EQ(chunks_->read(id, &out).code(), ErrorCode::kCorruption);
  ASSERT_TRUE(chunks_->read(other, &out).is_ok());
  auto report = chunks_->scrub();
  ASSERT_FALSE(report.problems.empty());
  bool named = false;
  for (const auto& p : report.problems) named |= p.find(id.hex()) != std::string::npos;
  EXPECT_TRUE(named) << "the scrubber must name the corrupt chunk";
}

TEST_F(ChunkStoreTest, TornTailIsCutAtRecovery) {
  ChunkId id = put(kiseki::testing::random_bytes(30000, 11));
  SegmentId seg = segments_->active_segment();
  uint64_t good = segments_->segment_size(seg);
  // Simulate a crash in the middle of an append: half a record at the tail.
  int fd = ::open(segment_path(seg).c_str(), O_WRONLY | O_APPEND);
  std::string half = "KSCR" + kiseki::testing::random_bytes(5000, 12);
  ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  ::close(fd);
  open();
  EXPECT_EQ(segments_->segment_size(seg), good);
  EXPECT_EQ(std::filesystem::file_size(segment_path(seg)), good);
  Bytes out;
  EXPECT_TRUE(chunks_->read(id, &out).is_ok());
  ChunkId next = put(kiseki::testing::random_bytes(30000, 13));  // appends after the cut
  EXPECT_TRUE(chunks_->read(next, &out).is_ok());
  EXPECT_TRUE(chunks_->scrub().problems.empty());
}

TEST_F(ChunkStoreTest, SegmentsRoll) {
  for (int i = 0; i < 40; ++i) put(kiseki::testing::random_bytes(60000, 100 + i));
  EXPECT_GE(segments_->segments().size(), 2u);
  EXPECT_TRUE(chunks_->scrub().problems.empty());
  EXPECT_EQ(segments_->remove(segments_->active_segment()).code(), ErrorCode::kInvalidArgument);
}

TEST(SegmentName, RoundTrip) {
  SegmentId id = 0;
  EXPECT_TRUE(parse_segment_file_name(segment_file_name(0x1234), &id));
  EXPECT_EQ(id, 0x1234u);
  EXPECT_FALSE(parse_segment_file_name("seg-zz.log", &id));
}

}  // namespace kiseki::chunk

namespace kiseki::chunk {

// Damage in the middle of the newest segment must not be mistaken for a torn
// tail: recovery keeps the records after it.
TEST_F(ChunkStoreTest, MidSegmentCorruptionIsNotCutAtRecovery) {
  ChunkId first = put(kiseki::testing::random_bytes(30000, 21));
  ChunkId second = put(kiseki::testing::random_bytes(30000, 22));
  auto e = *lookup(*meta_, first);
  uint64_t size = segments_->segment_size(e.loc.segment);
  int fd = ::open(segment_path(e.loc.segment).c_str(), O_RDWR);
  off_t pos = static_cast<off_t>(e.loc.offset + kRecordHeaderSize + 100);
  uint8_t b;
  ASSERT_EQ(::pread(fd, &b, 1, pos), 1);
  b ^= 1;
  ASSERT_EQ(::pwrite(fd, &b, 1, pos), 1);
  ::close(fd);
  open();
  EXPECT_EQ(segments_->segment_size(e.loc.segment), size) << "nothing may be cut";
  Bytes out;
  EXPECT_EQ(chunks_->read(first, &out).code(), ErrorCode::kCorruption);
  ASSERT_TRUE(chunks_->read(second, &out).is_ok());
  EXPECT_EQ(as_string_view(out), kiseki::testing::random_bytes(30000, 22));
  EXPECT_FALSE(chunks_->scrub().problems.empty());
}

}  // namespace kiseki::chunk
