#include "chunk/chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "chunk/refs.h"
#include "crypto/key_manager.h"
#include "meta/txn.h"
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
    chunks_ = *ChunkStore::open(meta_.get(), segments_.get(), keys_.get());
  }
  ChunkId put(const std::string& data) {
    ChunkId id = crypto::compute_chunk_id(dom_, as_bytes(data));
    auto p = chunks_->prepare(dom_, id, as_bytes(data));
    EXPECT_TRUE(p.is_ok());
    EXPECT_TRUE(chunks_->sync({*p}).is_ok());
    rocksdb::WriteBatchWithIndex wb;
    meta::Txn txn(meta_.get(), &wb);
    EXPECT_TRUE(apply_ref(txn, id, /*fresh=*/true, 0).is_ok());
    EXPECT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
    return id;
  }
  ScrubReport scrub() {
    return chunks_->scrub([&](DomainId) -> Result<crypto::DomainKeys> { return dom_; });
  }
  std::string segment_path(SegmentId id) { return dir_.path() + "/chunks/" + segment_file_name(id); }

  kiseki::testing::TempDir dir_;
  crypto::DomainKeys dom_ = crypto::derive_domain_keys(1, crypto::SecretKey::random());
  std::unique_ptr<crypto::FileKeyManager> keys_;
  std::unique_ptr<meta::Store> meta_;
  std::unique_ptr<SegmentStore> segments_;
  std::unique_ptr<ChunkStore> chunks_;
};

TEST_F(ChunkStoreTest, PutGetAndDedup) {
  std::string data = kiseki::testing::random_bytes(70000, 3);
  ChunkId id = put(data);
  Bytes out;
  ASSERT_TRUE(chunks_->read(dom_, id, &out).is_ok());
  EXPECT_EQ(as_string_view(out), data);
  uint64_t size = segments_->segment_size(segments_->active_segment());
  ChunkId again = put(data);  // dedup hit: no new bytes, one more reference
  EXPECT_EQ(again, id);
  EXPECT_EQ(segments_->segment_size(segments_->active_segment()), size);
  EXPECT_EQ(*ref_count(*meta_, id), 2u);
}

TEST_F(ChunkStoreTest, UnreferencedChunksAreCollectedUnlessPinned) {
  ChunkId id = put("some chunk bytes");
  auto loc = *chunks_->locate(id);
  EXPECT_EQ(chunks_->live_bytes(loc.segment), loc.record_size());
  rocksdb::WriteBatchWithIndex wb;
  meta::Txn txn(meta_.get(), &wb);
  ASSERT_TRUE(apply_unref(txn, id, 0).is_ok());
  ASSERT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
  EXPECT_EQ(*ref_count(*meta_, id), 0u);
  // A write that dedup-hits the chunk pins it: the collector leaves it alone.
  auto pinned = chunks_->prepare(dom_, id, as_bytes(std::string("some chunk bytes")));
  ASSERT_TRUE(pinned.is_ok());
  EXPECT_FALSE(pinned->stored) << "a dedup hit stores nothing";
  EXPECT_EQ(chunks_->release({id}), 0u);
  EXPECT_TRUE(chunks_->locate(id).is_ok());
  pinned = Result<PreparedChunk>(make_error(ErrorCode::kNotFound, ""));  // the last pin collects it
  EXPECT_EQ(chunks_->locate(id).code(), ErrorCode::kNotFound);
  EXPECT_EQ(chunks_->release({id}), 0u);
  EXPECT_EQ(chunks_->live_bytes(loc.segment), 0u);
  // A reference that is not fresh to a chunk nothing references is a conflict.
  rocksdb::WriteBatchWithIndex wb2;
  meta::Txn txn2(meta_.get(), &wb2);
  EXPECT_EQ(apply_ref(txn2, id, /*fresh=*/false, 0).code(), ErrorCode::kConflict);
}

TEST_F(ChunkStoreTest, OpenDropsLocationsPastTheRecoveredEndAndCollectsGarbage) {
  ChunkId kept = put(kiseki::testing::random_bytes(30000, 31));
  ChunkId torn = put(kiseki::testing::random_bytes(30000, 32));
  auto tl = *chunks_->locate(torn);
  // An unreferenced chunk (its delta never committed) and a torn tail.
  auto orphan = chunks_->prepare(dom_, crypto::compute_chunk_id(dom_, as_bytes(std::string("orphan"))),
                                 as_bytes(std::string("orphan")));
  ASSERT_TRUE(orphan.is_ok());
  ChunkId orphan_id = orphan->id;
  orphan = Result<PreparedChunk>(make_error(ErrorCode::kNotFound, ""));
  ASSERT_EQ(::truncate(segment_path(tl.segment).c_str(), static_cast<off_t>(tl.offset + 10)), 0);
  open();
  EXPECT_TRUE(chunks_->locate(kept).is_ok());
  EXPECT_EQ(chunks_->locate(torn).code(), ErrorCode::kNotFound) << "its record was cut at recovery";
  EXPECT_EQ(chunks_->locate(orphan_id).code(), ErrorCode::kNotFound) << "garbage is collected at open";
  EXPECT_FALSE(scrub().problems.empty())
      << "a referenced chunk without bytes is reported";
}

TEST_F(ChunkStoreTest, FlippedBitIsCorruptionAndScrubReportsIt) {
  std::string data = kiseki::testing::random_bytes(50000, 9);
  ChunkId id = put(data);
  ChunkId other = put(kiseki::testing::random_bytes(50000, 10));
  auto e = *chunks_->locate(id);
  EXPECT_TRUE(scrub().problems.empty());
  // Flip one bit in the middle of the payload, on disk.
  int fd = ::open(segment_path(e.segment).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  off_t pos = static_cast<off_t>(e.offset + kRecordHeaderSize + 20000);
  uint8_t b;
  ASSERT_EQ(::pread(fd, &b, 1, pos), 1);
  b ^= 0x04;
  ASSERT_EQ(::pwrite(fd, &b, 1, pos), 1);
  ::close(fd);
  Bytes out;
  EXPECT_EQ(chunks_->read(dom_, id, &out).code(), ErrorCode::kCorruption);
  ASSERT_TRUE(chunks_->read(dom_, other, &out).is_ok());
  auto report = scrub();
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
  EXPECT_TRUE(chunks_->read(dom_, id, &out).is_ok());
  ChunkId next = put(kiseki::testing::random_bytes(30000, 13));  // appends after the cut
  EXPECT_TRUE(chunks_->read(dom_, next, &out).is_ok());
  EXPECT_TRUE(scrub().problems.empty());
}

TEST_F(ChunkStoreTest, SegmentsRoll) {
  for (int i = 0; i < 40; ++i) put(kiseki::testing::random_bytes(60000, 100 + i));
  EXPECT_GE(segments_->segments().size(), 2u);
  EXPECT_TRUE(scrub().problems.empty());
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
  auto e = *chunks_->locate(first);
  uint64_t size = segments_->segment_size(e.segment);
  int fd = ::open(segment_path(e.segment).c_str(), O_RDWR);
  off_t pos = static_cast<off_t>(e.offset + kRecordHeaderSize + 100);
  uint8_t b;
  ASSERT_EQ(::pread(fd, &b, 1, pos), 1);
  b ^= 1;
  ASSERT_EQ(::pwrite(fd, &b, 1, pos), 1);
  ::close(fd);
  open();
  EXPECT_EQ(segments_->segment_size(e.segment), size) << "nothing may be cut";
  Bytes out;
  EXPECT_EQ(chunks_->read(dom_, first, &out).code(), ErrorCode::kCorruption);
  ASSERT_TRUE(chunks_->read(dom_, second, &out).is_ok());
  EXPECT_EQ(as_string_view(out), kiseki::testing::random_bytes(30000, 22));
  EXPECT_FALSE(scrub().problems.empty());
}

}  // namespace kiseki::chunk

namespace kiseki::chunk {

// A chunk collected (its location's removal still pending) and then written again
// must end with a location: the new copy's change replaces the pending removal.
TEST_F(ChunkStoreTest, AChunkWrittenAgainAfterCollectionKeepsItsNewCopy) {
  std::string data = kiseki::testing::random_bytes(40000, 41);
  ChunkId id = put(data);
  rocksdb::WriteBatchWithIndex wb;
  meta::Txn txn(meta_.get(), &wb);
  ASSERT_TRUE(apply_unref(txn, id, 0).is_ok());
  ASSERT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
  ASSERT_EQ(chunks_->release({id}), 1u);
  EXPECT_EQ(chunks_->locate(id).code(), ErrorCode::kNotFound);
  ChunkId again = put(data);  // stores a new copy and references it
  ASSERT_EQ(again, id);
  ASSERT_TRUE(chunks_->flush_local().is_ok());
  open();  // from the store alone
  Bytes out;
  ASSERT_TRUE(chunks_->read(dom_, id, &out).is_ok());
  EXPECT_EQ(as_string_view(out), data);
}

TEST(ChunkRefs, TheFirstReferenceRecordsTheChunksRedundancy) {
  kiseki::testing::TempDir dir;
  auto meta = *meta::Store::open(dir.path() + "/meta");
  ChunkId id{};
  id.bytes[20] = 9;
  auto apply = [&](auto f) {
    rocksdb::WriteBatchWithIndex wb;
    meta::Txn txn(meta.get(), &wb);
    EXPECT_TRUE(f(txn).is_ok());
    EXPECT_TRUE(meta->write(wb.GetWriteBatch(), true).is_ok());
  };
  apply([&](meta::Txn& t) { return apply_ref(t, id, true, 0, Redundancy::erasure(4, 2)); });
  // A later reference from a namespace of another policy keeps the first's.
  apply([&](meta::Txn& t) { return apply_ref(t, id, true, 0, Redundancy::replicas(3)); });
  EXPECT_EQ(*ref_count(*meta, id), 2u);
  EXPECT_EQ(**ref_form(*meta, id), Redundancy::erasure(4, 2));
  apply([&](meta::Txn& t) { return apply_unref(t, id, 0); });
  EXPECT_EQ(**ref_form(*meta, id), Redundancy::erasure(4, 2));
  apply([&](meta::Txn& t) { return apply_unref(t, id, 0); });
  EXPECT_FALSE(*ref_form(*meta, id));
  // Counted anew, with no policy (a single node): none recorded.
  apply([&](meta::Txn& t) { return apply_ref(t, id, true, 0); });
  EXPECT_EQ(*ref_count(*meta, id), 1u);
  EXPECT_FALSE(*ref_form(*meta, id));
}

TEST_F(ChunkStoreTest, FragmentsLiveAsLongAsTheirChunkIsReferenced) {
  std::string data = kiseki::testing::random_bytes(5000, 11);
  ChunkId id = put(data);
  // Two fragments of it held here (a node of a cluster), under their own keys.
  ASSERT_TRUE(chunks_->adopt(fragment_id(id, 1), as_bytes(std::string(300, 'a'))).is_ok());
  ASSERT_TRUE(chunks_->adopt(fragment_id(id, 4), as_bytes(std::string(300, 'b'))).is_ok());
  ASSERT_TRUE(chunks_->flush_local().is_ok());
  EXPECT_TRUE(chunks_->holds_fragments());
  EXPECT_EQ(chunk_of(fragment_id(id, 4)), id);
  Bytes rec;
  ASSERT_TRUE(chunks_->read_sealed(fragment_id(id, 4), &rec).is_ok());
  EXPECT_EQ(as_string_view(rec), std::string(300, 'b'));
  // Referenced: garbage collection and a reopen keep them.
  EXPECT_EQ(*chunks_->collect_garbage(), 0u);
  open();
  EXPECT_TRUE(chunks_->locate(fragment_id(id, 1)).is_ok());
  // The chunk's last reference goes: its release takes the fragments too.
  {
    rocksdb::WriteBatchWithIndex wb;
    meta::Txn txn(meta_.get(), &wb);
    ASSERT_TRUE(apply_unref(txn, id, 0).is_ok());
    ASSERT_TRUE(meta_->write(wb.GetWriteBatch(), true).is_ok());
  }
  EXPECT_EQ(chunks_->release({id}), 3u);
  EXPECT_EQ(chunks_->locate(fragment_id(id, 1)).code(), ErrorCode::kNotFound);
  EXPECT_EQ(chunks_->locate(fragment_id(id, 4)).code(), ErrorCode::kNotFound);
}

TEST_F(ChunkStoreTest, AnUnreferencedFragmentIsCollectedByItsDomain) {
  ChunkId id{};
  id.bytes[7] = 1;  // domain 1
  id.bytes[12] = 5;
  ASSERT_TRUE(chunks_->adopt(fragment_id(id, 2), as_bytes(std::string(100, 'x'))).is_ok());
  ASSERT_TRUE(chunks_->flush_local().is_ok());
  EXPECT_EQ(*chunks_->collect_garbage(DomainId{2}), 0u);  // another domain's collection leaves it
  EXPECT_EQ(*chunks_->collect_garbage(DomainId{1}), 1u);
  EXPECT_EQ(chunks_->locate(fragment_id(id, 2)).code(), ErrorCode::kNotFound);
}

TEST_F(ChunkStoreTest, EvictDropsACopyWhateverItsReferences) {
  std::string data = kiseki::testing::random_bytes(3000, 12);
  ChunkId id = put(data);
  EXPECT_TRUE(*chunks_->evict(id));
  EXPECT_FALSE(*chunks_->evict(id));
  EXPECT_EQ(chunks_->locate(id).code(), ErrorCode::kNotFound);
  // A partial store (a cluster's node) does not expect every referenced chunk.
  EXPECT_FALSE(scrub().problems.empty());
  chunks_->set_partial(true);
  EXPECT_TRUE(scrub().problems.empty()) << scrub().problems[0];
}

TEST_F(ChunkStoreTest, ScrubNamesTheDamagedFragment) {
  std::string data = kiseki::testing::random_bytes(5000, 13);
  ChunkId id = put(data);
  ChunkId frag = fragment_id(id, 3);
  auto loc = chunks_->adopt(frag, as_bytes(std::string(2000, 'f')));
  ASSERT_TRUE(loc.is_ok());
  ASSERT_TRUE(segments_->sync_all(true).is_ok());
  ASSERT_TRUE(chunks_->flush_local().is_ok());
  int fd = ::open(segment_path(loc->segment).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 'g';
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(loc->offset + kRecordHeaderSize + 700)), 1);
  ::close(fd);
  auto r = scrub();
  ASSERT_EQ(r.damaged.size(), 1u);
  EXPECT_EQ(r.damaged[0], frag);
}

}  // namespace kiseki::chunk
