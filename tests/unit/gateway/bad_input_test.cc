#include "fixture.h"

namespace kiseki::gateway {

constexpr InodeId kRoot = ns::kRootInode;

static const std::vector<std::string>& bad_names() {
  // Invalid UTF-8 too: a stray byte, an overlong '/', a surrogate, a cut sequence,
  // a code point past U+10FFFF.
  static const std::vector<std::string> names = {"", ".", "..", "a/b", std::string("a\0b", 3), std::string(256, 'n'),
                                                 "\xff", "a\xc0\xaf" "b", "\xed\xa0\x80", "x\xe2\x82", "\xf4\x90\x80\x80"};
  return names;
}

static ErrorCode expected(const std::string& n) {
  return n.size() > 255 ? ErrorCode::kNameTooLong : ErrorCode::kInvalidArgument;
}

TEST_F(GatewayTest, InvalidNamesEverywhere) {
  auto f = *gw_->create(ns_, kRoot, "ok", 0644, who_, true);
  for (const auto& n : bad_names()) {
    SCOPED_TRACE(::testing::PrintToString(n));
    ErrorCode want = expected(n);
    EXPECT_EQ(gw_->lookup(ns_, kRoot, n).code(), want);
    EXPECT_EQ(gw_->create(ns_, kRoot, n, 0644, who_, true).code(), want);
    EXPECT_EQ(gw_->mkdir(ns_, kRoot, n, 0755, who_).code(), want);
    EXPECT_EQ(gw_->symlink(ns_, kRoot, n, "t", who_).code(), want);
    EXPECT_EQ(gw_->link(ns_, f.ino, kRoot, n).code(), want);
    EXPECT_EQ(gw_->unlink(ns_, kRoot, n).code(), want);
    EXPECT_EQ(gw_->rmdir(ns_, kRoot, n).code(), want);
    EXPECT_EQ(gw_->rename(ns_, kRoot, n, kRoot, "x").code(), want);
    EXPECT_EQ(gw_->rename(ns_, kRoot, "ok", kRoot, n).code(), want);
    EXPECT_EQ(gw_->create_tenant(n).code(), want);
    EXPECT_EQ(gw_->create_namespace(tenant_, n).code(), want);
    // As a key component (object keys allow components up to the 1024-byte key limit).
    if (!n.empty() && n.find('/') == std::string::npos && n.size() <= 255) {
      EXPECT_EQ(gw_->put_object(ns_, "a/" + n + "/b", source_from(as_bytes("x")), {}).code(), want);
      EXPECT_EQ(gw_->create_upload(ns_, n + "/x", {}).code(), want);
    }
  }
  EXPECT_EQ(gw_->put_object(ns_, "", source_from(as_bytes("x")), {}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->put_object(ns_, "a//b", source_from(as_bytes("x")), {}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->put_object(ns_, std::string(1025, 'k'), source_from(as_bytes("x")), {}).code(),
            ErrorCode::kNameTooLong);
  EXPECT_EQ(gw_->head_object(ns_, "../etc/passwd").code(), ErrorCode::kInvalidArgument);
  // A 1024-byte key is fine as an object, but not as a file name.
  std::string long_key(1024, 'k');
  ASSERT_TRUE(gw_->put_object(ns_, long_key, source_from(as_bytes("x")), {}).is_ok());
  EXPECT_EQ(gw_->lookup(ns_, kRoot, long_key).code(), ErrorCode::kNameTooLong);
  ASSERT_TRUE(gw_->delete_object(ns_, long_key).is_ok());
  // Nothing was created and the one good file is intact.
  auto entries = *gw_->readdir(ns_, kRoot, 0, 100);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "ok");
  EXPECT_EQ(gw_->list_objects(ns_, {})->objects.size(), 1u);
}

TEST_F(GatewayTest, InvalidOffsetsAndUnknownIds) {
  auto f = *gw_->create(ns_, kRoot, "f", 0644, who_, true);
  EXPECT_EQ(gw_->write(ns_, f.ino, 1ull << 63, as_bytes("x")).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->read(ns_, f.ino, 1ull << 63, 1).code(), ErrorCode::kInvalidArgument);
  SetAttrRequest huge;
  huge.size = 1ull << 63;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, huge).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->getattr(ns_, 0).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->getattr(ns_, 987654).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->read(ns_, 987654, 0, 1).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->write(ns_, 987654, 0, as_bytes("x")).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->readdir(ns_, 987654, 0, 1).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->readdir(ns_, f.ino, 0, 1).code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(gw_->create(ns_, 987654, "x", 0644, who_, true).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->read(ns_, kRoot, 0, 1).code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(gw_->write(ns_, kRoot, 0, as_bytes("x")).code(), ErrorCode::kIsDirectory);
  NsRef unknown{tenant_, 4242};
  EXPECT_EQ(gw_->getattr(unknown, kRoot).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->put_object(unknown, "k", source_from(as_bytes("x")), {}).code(), ErrorCode::kStale);
  NsRef bad_tenant{777, ns_.ns};
  EXPECT_EQ(gw_->put_object(bad_tenant, "k", source_from(as_bytes("x")), {}).code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->upload_part(ns_, "nope", 1, source_from(as_bytes("x"))).code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->upload_part(ns_, std::string(32, 'a'), 1, source_from(as_bytes("x"))).code(), ErrorCode::kNotFound);
  auto id = *gw_->create_upload(ns_, "k", {});
  EXPECT_EQ(gw_->upload_part(ns_, id, 0, source_from(as_bytes("x"))).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->upload_part(ns_, id, 10001, source_from(as_bytes("x"))).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->complete_upload(ns_, id, {}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->abort_upload(ns_, "zz").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->get_access_key("missing").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->shred_tenant(31337).code(), ErrorCode::kNotFound);
  // A body source that fails mid-stream fails the put and changes nothing.
  put("stable", "before");
  int calls = 0;
  ByteSource failing = [&](MutableByteSpan buf) -> Result<size_t> {
    if (++calls > 3) return io_error("client went away");
    std::memset(buf.data(), 'x', std::min<size_t>(buf.size(), 100000));
    return std::min<size_t>(buf.size(), 100000);
  };
  EXPECT_EQ(gw_->put_object(ns_, "stable", failing, {}).code(), ErrorCode::kIoError);
  EXPECT_EQ(get("stable"), "before");
}

TEST(GatewayOptionsTest, BadOptionsAreRefused) {
  kiseki::testing::TempDir dir;
  GatewayOptions o;
  o.data_dir = dir.path();
  o.object_chunking.avg_size = 1000;
  EXPECT_EQ(Gateway::open(o).code(), ErrorCode::kInvalidArgument);
  o = {};
  o.data_dir = dir.path();
  o.file_chunk_bytes = 10;
  EXPECT_EQ(Gateway::open(o).code(), ErrorCode::kInvalidArgument);
}

TEST_F(GatewayTest, ValidUtf8NamesOfEveryLengthPass) {
  for (std::string n : {"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x93\xb7", "tab\there"}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(gw_->create(ns_, kRoot, n, 0644, who_, true).is_ok());
    EXPECT_TRUE(gw_->put_object(ns_, "k/" + n, source_from(as_bytes("x")), {}).is_ok());
  }
}

TEST(GatewayOptionsTest, AnOlderFormatIsRefusedClearly) {
  kiseki::testing::TempDir dir;
  {
    // What format 1 left: chunk locations inside the replicated state.
    rocksdb::Options ro;
    ro.create_if_missing = true;
    ro.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{"default", {}}, {"chunks", {}}, {"segments", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir.path() + "/meta", cfs, &handles, &db).ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  GatewayOptions o;
  o.data_dir = dir.path();
  auto g = Gateway::open(o);
  EXPECT_EQ(g.code(), ErrorCode::kNotSupported);
  EXPECT_NE(g.status().message().find("older Kiseki"), std::string::npos) << g.status().to_string();
  EXPECT_NE(g.status().message().find("docs/formats.md"), std::string::npos);
}

}  // namespace kiseki::gateway
