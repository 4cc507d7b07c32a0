#include "namespace/delta.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace kiseki::ns {

TEST(Delta, RecordRoundTrip) {
  Delta d;
  d.op = Op::kRename;
  d.flags = kNoReplace;
  d.ns = 3;
  d.parent = 1;
  d.parent2 = 9;
  d.name = "a";
  d.name2 = "b";
  d.time_ns = -5;
  d.inode.attr.mode = 0640;
  d.inode.content = "sealed";
  ChunkId id;
  id.bytes[3] = 7;
  d.refs.push_back({id, true, Redundancy::erasure(4, 2)});
  d.refs.push_back({id, false});
  d.unrefs.push_back(id);
  std::string rec = encode_record({d, Delta{}}, RequestId{77, 5});
  std::vector<Delta> back;
  RequestId req;
  ASSERT_TRUE(decode_record(rec, &back, &req).is_ok());
  EXPECT_EQ(req, (RequestId{77, 5}));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].op, Op::kRename);
  EXPECT_EQ(back[0].name2, "b");
  EXPECT_EQ(back[0].time_ns, -5);
  EXPECT_EQ(back[0].inode.attr.mode, 0640u);
  EXPECT_EQ(back[0].inode.content, "sealed");
  ASSERT_EQ(back[0].refs.size(), 2u);
  EXPECT_TRUE(back[0].refs[0].fresh);
  EXPECT_EQ(back[0].refs[0].form, Redundancy::erasure(4, 2));
  EXPECT_FALSE(back[0].refs[1].fresh);
  EXPECT_FALSE(back[0].refs[1].form);
  EXPECT_EQ(back[0].unrefs[0], id);
}

TEST(Delta, TruncatedOrGarbageRecordsAreCorruption) {
  std::string rec = encode_record({Delta{}});
  std::vector<Delta> back;
  for (size_t n = 0; n < rec.size(); ++n)
    EXPECT_EQ(decode_record(std::string_view(rec).substr(0, n), &back).code(), ErrorCode::kCorruption) << n;
  std::string garbage = kiseki::testing::random_bytes(300, 1);
  garbage[0] = 1;
  EXPECT_FALSE(decode_record(garbage, &back).is_ok());
}

TEST(Redundancy, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(*Redundancy::parse("ec=4+2"), Redundancy::erasure(4, 2));
  EXPECT_EQ(*Redundancy::parse("ec=8+3"), Redundancy::erasure(8, 3));
  EXPECT_EQ(*Redundancy::parse("replicas=3"), Redundancy::replicas(3));
  for (const char* bad : {"ec=4", "ec=1+2", "ec=4+0", "ec=40+2", "ec=4+9", "replicas=0", "replicas=8", "raid5",
                          "ec=4+2x", "replicas=", ""})
    EXPECT_FALSE(Redundancy::parse(bad).is_ok()) << bad;
  EXPECT_EQ(Redundancy::erasure(4, 2).name(), "ec=4+2");
  EXPECT_EQ(Redundancy::erasure(4, 2).write_quorum(), 5u);
  EXPECT_EQ(Redundancy::replicas(3).write_quorum(), 2u);
  EXPECT_EQ(*Redundancy::decode(Redundancy::erasure(8, 3).encode()), Redundancy::erasure(8, 3));
  EXPECT_FALSE(Redundancy::decode(std::string("\x07\x04\x02", 3)).is_ok());
  EXPECT_FALSE(Redundancy::decode("ab").is_ok());
}

TEST(Names, Validation) {
  EXPECT_TRUE(validate_name("file.txt").is_ok());
  EXPECT_EQ(validate_name("").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_name(".").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_name("..").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_name("a/b").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_name(std::string("a\0b", 3)).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(validate_name(std::string(256, 'x')).code(), ErrorCode::kNameTooLong);
  EXPECT_TRUE(validate_name(std::string(255, 'x')).is_ok());
}

}  // namespace kiseki::ns

namespace kiseki::ns {
namespace {

TEST(DirCookie, CarriesTheInodeAndReadsTheNameOnlyFormat) {
  DirCookieEntry e;
  ASSERT_TRUE(decode_dircookie(encode_dircookie("a b", 42, FileType::kDirectory), &e).is_ok());
  EXPECT_EQ(e.name, "a b");
  EXPECT_EQ(e.ino, 42u);
  EXPECT_EQ(e.type, FileType::kDirectory);
  // Entries written before the inode was in them: the name alone, inode 0.
  ASSERT_TRUE(decode_dircookie("report.txt", &e).is_ok());
  EXPECT_EQ(e.name, "report.txt");
  EXPECT_EQ(e.ino, 0u);
  std::string cut = encode_dircookie("x", 7, FileType::kFile);
  EXPECT_FALSE(decode_dircookie(cut.substr(0, 10), &e).is_ok());
  EXPECT_FALSE(decode_dircookie("", &e).is_ok());
}

}  // namespace
}  // namespace kiseki::ns

namespace kiseki::ns {
namespace {

TEST(Inode, TailFieldsRoundTripAndOlderRecordsReadWithout) {
  Inode i;
  i.ino = 7;
  i.content = "sealed";
  std::string plain = encode_inode(i);  // no lock, no name: no tail (the older format)
  i.lock = {LockMode::kCompliance, 123456789, true};
  i.name = "a.txt";
  std::string tailed = encode_inode(i);
  EXPECT_TRUE(tailed.starts_with(plain));
  Inode back;
  ASSERT_TRUE(decode_inode(tailed, &back).is_ok());
  EXPECT_EQ(back.lock, i.lock);
  EXPECT_EQ(back.name, "a.txt");
  ASSERT_TRUE(decode_inode(plain, &back).is_ok());
  EXPECT_FALSE(back.lock.any());
  EXPECT_TRUE(back.name.empty());
  EXPECT_FALSE(decode_inode(plain + "\x09", &back).is_ok());  // an unknown field
  EXPECT_FALSE(decode_inode(tailed.substr(0, tailed.size() - 1), &back).is_ok());
}

TEST(Inode, AttributesOnlyDecodeIsTheWholeDecodeLessContent) {
  Inode i;
  i.ino = 9;
  i.type = FileType::kDirectory;
  i.flags = kDirObject;
  i.attr = {0755, 10, 20, 111, 222, 333};
  i.btime_ns = 44;
  i.nlink = 3;
  i.size = 4096;
  i.generation = 5;
  i.version = 6;
  i.parent = 1;
  i.next_cookie = 77;
  i.content = std::string(300, 'c');
  i.lock = {LockMode::kGovernance, 99, false};
  i.name = "n";
  i.object_mtime_ns = 555;
  std::string v = encode_inode(i);
  Inode whole, attrs;
  attrs.content = "stale";  // cleared, not kept from before
  ASSERT_TRUE(decode_inode(v, &whole).is_ok());
  ASSERT_TRUE(decode_inode_attrs(v, &attrs).is_ok());
  EXPECT_TRUE(attrs.content.empty());
  whole.content.clear();
  EXPECT_EQ(encode_inode(attrs), encode_inode(whole));
  EXPECT_FALSE(decode_inode_attrs(v.substr(0, v.size() - 1), &attrs).is_ok());
  EXPECT_FALSE(decode_inode_attrs(v + "\x09", &attrs).is_ok());
}

}  // namespace
}  // namespace kiseki::ns
