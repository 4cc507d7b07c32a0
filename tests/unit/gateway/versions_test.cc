// Object versions (ADR 0012) in the Gateway: what each writer keeps, reads and
// deletes by version, delete markers, the null version of a suspended
// namespace, listings, and the chunk references of all of it (checked against
// the layouts after every step, and after a reopen and a shred).
#include "fixture.h"

namespace kiseki::gateway {
namespace {

class VersionsTest : public GatewayTest {
 protected:
  void set_versioning(const char* state) {
    ASSERT_TRUE(gw_->put_namespace_config(ns_, kVersioningItem, state).is_ok());
  }
  std::string get_version(const std::string& key, const std::string& id) {
    auto h = gw_->open_object_version(ns_, key, id);
    EXPECT_TRUE(h.is_ok()) << key << "@" << id << ": " << h.status().to_string();
    if (!h) return "";
    Bytes out;
    EXPECT_TRUE(gw_->read_object(*h, 0, h->info.size, &out).is_ok());
    return std::string(as_string_view(out));
  }
  // (key, id, latest, marker) in listing order.
  std::vector<std::tuple<std::string, std::string, bool, bool>> listed(const std::string& prefix = "") {
    VersionListRequest req;
    req.prefix = prefix;
    auto r = gw_->list_object_versions(ns_, req);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<std::tuple<std::string, std::string, bool, bool>> out;
    if (r)
      for (const auto& v : r->versions) out.emplace_back(v.info.key, v.info.version_id, v.latest, v.info.delete_marker);
    return out;
  }
  void expect_references_agree() {
    auto refs = gw_->check_references();
    ASSERT_TRUE(refs.is_ok()) << refs.status().to_string();
    EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  }
  static std::string big(char c) { return std::string(300000, c); }  // chunked, not inline
};

TEST_F(VersionsTest, WritersKeepTheObjectTheyReplace) {
  put("k", big('0'));  // before versioning: the null version
  set_versioning("Enabled");
  ObjectInfo v1 = put("k", big('1'));
  ObjectInfo v2 = put("k", "small two");
  ASSERT_EQ(v1.version_id.size(), kVersionIdChars);
  auto v3 = gw_->copy_object(ns_, "k", ns_, "k", std::nullopt, v1.version_id);
  ASSERT_TRUE(v3.is_ok()) << v3.status().to_string();
  EXPECT_TRUE(get("k") == big('1'));
  EXPECT_TRUE(get_version("k", std::string(kNullVersion)) == big('0'));
  EXPECT_TRUE(get_version("k", v1.version_id) == big('1'));
  EXPECT_EQ(get_version("k", v2.version_id), "small two");
  auto l = listed();
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0], std::make_tuple(std::string("k"), v3->version_id, true, false));
  EXPECT_EQ(std::get<1>(l[1]), v2.version_id);
  EXPECT_EQ(std::get<1>(l[2]), v1.version_id);
  EXPECT_EQ(std::get<1>(l[3]), "null");
  expect_references_agree();
  auto usage = gw_->usage();
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->total.files, 1u);
  EXPECT_EQ(usage->total.versions, 3u);
  EXPECT_EQ(usage->total.version_bytes, 2 * big('0').size() + 9);
  // An edit of the metadata in place (tags) is no new version.
  ASSERT_TRUE(gw_->edit_object_meta(ns_, "k", [](ObjectMeta* m) {
    m->user_meta["tag"] = "x";
    return Status::ok();
  }).is_ok());
  EXPECT_EQ(listed().size(), 4u);
  EXPECT_EQ(gw_->head_object(ns_, "k")->version_id, v3->version_id);
  reopen();
  EXPECT_TRUE(get_version("k", v1.version_id) == big('1'));
  expect_references_agree();
}

TEST_F(VersionsTest, DeleteMarkersAndDeletesByVersion) {
  set_versioning("Enabled");
  ObjectInfo v1 = put("a/b", big('1'));
  ObjectInfo v2 = put("a/b", big('2'));
  DeletedObject marker;
  ASSERT_TRUE(gw_->delete_object(ns_, "a/b", {}, &marker).is_ok());
  EXPECT_TRUE(marker.delete_marker);
  EXPECT_EQ(gw_->head_object(ns_, "a/b").code(), ErrorCode::kNotFound);
  auto m = gw_->open_object_version(ns_, "a/b", marker.version_id);
  ASSERT_TRUE(m.is_ok());
  EXPECT_TRUE(m->info.delete_marker);
  expect_references_agree();
  // The marker goes: v2 is current again.
  auto d = gw_->delete_object_version(ns_, "a/b", marker.version_id);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_TRUE(d->delete_marker);
  EXPECT_TRUE(get("a/b") == big('2'));
  // The current one goes: v1 is current.
  ASSERT_TRUE(gw_->delete_object_version(ns_, "a/b", v2.version_id).is_ok());
  EXPECT_TRUE(get("a/b") == big('1'));
  EXPECT_EQ(gw_->head_object(ns_, "a/b")->version_id, v1.version_id);
  expect_references_agree();
  EXPECT_EQ(gw_->delete_object_version(ns_, "a/b", v2.version_id).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(gw_->delete_object_version(ns_, "a/b", v1.version_id).is_ok());
  EXPECT_TRUE(listed().empty());
  expect_references_agree();
  // Nothing left: the namespace deletes.
  EXPECT_TRUE(gw_->delete_namespace(tenant_, "bucket").is_ok());
}

TEST_F(VersionsTest, ANamespaceWithVersionsIsNotEmpty) {
  set_versioning("Enabled");
  put("k", "x");
  ASSERT_TRUE(gw_->delete_object(ns_, "k").is_ok());
  EXPECT_EQ(gw_->delete_namespace(tenant_, "bucket").code(), ErrorCode::kNotEmpty);
}

TEST_F(VersionsTest, SuspendedKeepsOneNullVersion) {
  set_versioning("Enabled");
  ObjectInfo v1 = put("k", big('1'));
  set_versioning("Suspended");
  EXPECT_EQ(put("k", big('2')).version_id, "null");
  EXPECT_EQ(put("k", big('3')).version_id, "null");  // replaces the null version
  auto l = listed();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(std::get<1>(l[0]), "null");
  EXPECT_EQ(std::get<1>(l[1]), v1.version_id);
  EXPECT_TRUE(get("k") == big('3'));
  expect_references_agree();
  DeletedObject marker;
  ASSERT_TRUE(gw_->delete_object(ns_, "k", {}, &marker).is_ok());
  EXPECT_EQ(marker.version_id, "null");
  l = listed();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_TRUE(std::get<3>(l[0]));  // the null marker took the null version's place
  expect_references_agree();
}

TEST_F(VersionsTest, AHardLinkedObjectKeepsItsContentWhenDeleted) {
  set_versioning("Enabled");
  ObjectInfo v1 = put("f", big('1'));
  auto f = gw_->lookup(ns_, ns::kRootInode, "f");
  ASSERT_TRUE(f.is_ok());
  ASSERT_TRUE(gw_->link(ns_, f->ino, ns::kRootInode, "g").is_ok());
  ASSERT_TRUE(gw_->delete_object(ns_, "f").is_ok());
  EXPECT_TRUE(get("g") == big('1'));
  EXPECT_TRUE(get_version("f", v1.version_id) == big('1'));
  expect_references_agree();
  ASSERT_TRUE(gw_->unlink(ns_, ns::kRootInode, "g").is_ok());
  EXPECT_TRUE(get_version("f", v1.version_id) == big('1'));
  expect_references_agree();
}

TEST_F(VersionsTest, ListingResumesInsideAKey) {
  set_versioning("Enabled");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(put("a", big('0' + i)).version_id);
  put("b", "b");
  VersionListRequest req;
  req.max_keys = 2;
  auto r = gw_->list_object_versions(ns_, req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->versions.size(), 2u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->versions[0].info.version_id, ids[2]);
  EXPECT_EQ(r->versions[1].info.version_id, ids[1]);
  req.key_marker = "a";
  req.version_id_marker = ids[1];
  r = gw_->list_object_versions(ns_, req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->versions.size(), 2u);
  EXPECT_EQ(r->versions[0].info.version_id, ids[0]);
  EXPECT_FALSE(r->versions[0].latest);
  EXPECT_EQ(r->versions[1].info.key, "b");
  EXPECT_TRUE(r->versions[1].latest);
  EXPECT_FALSE(r->truncated);
}

TEST_F(VersionsTest, ShreddingTakesTheVersions) {
  set_versioning("Enabled");
  put("k", big('1'));
  put("k", big('2'));
  ASSERT_TRUE(gw_->delete_object(ns_, "k").is_ok());
  ASSERT_TRUE(gw_->shred_tenant(tenant_).is_ok());
  ASSERT_TRUE(gw_->purge_shredded().is_ok());
  expect_references_agree();
  auto usage = gw_->usage();
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->total.files, 0u);
  EXPECT_EQ(usage->total.chunks, 0u);
}

// File operations (NFS, the mount) in a versioned namespace, on a clock the
// test drives: a write more than kVersionBurstNs after the last change keeps the
// content it replaces; an unlink is a delete with a marker; a rename over a file
// keeps the file it replaces.
class FileVersionsTest : public VersionsTest {
 protected:
  struct ClockEnv : Env {
    ManualClock clock_;
    const Clock& clock() const override { return clock_; }
  };
  GatewayOptions options() override {
    GatewayOptions o = VersionsTest::options();
    o.env = &env_;
    return o;
  }
  void TearDown() override { gw_.reset(); }  // before env_, which it uses, goes
  InodeId ino(const std::string& path) {
    InodeId dir = ns::kRootInode;
    size_t start = 0;
    for (;;) {
      size_t slash = path.find('/', start);
      auto a = gw_->lookup(ns_, dir, path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      EXPECT_TRUE(a.is_ok()) << path;
      if (!a) return 0;
      if (slash == std::string::npos) return a->ino;
      dir = a->ino;
      start = slash + 1;
    }
  }
  void write(const std::string& path, uint64_t off, const std::string& data) {
    auto r = gw_->write(ns_, ino(path), off, as_bytes(data));
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  }
  ClockEnv env_;
};

TEST_F(FileVersionsTest, WritesAfterAPauseKeepWhatTheyReplace) {
  set_versioning("Enabled");
  ObjectInfo v1 = put("d/f", big('1'));
  env_.clock_.advance_ns(kVersionBurstNs + 1);
  write("d/f", 0, "AB");  // the first write after a pause: v1 is kept
  write("d/f", 2, "CD");  // the same burst: one version
  env_.clock_.advance_ns(1'000'000);
  write("d/f", 4, "EF");
  auto l = listed();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(std::get<1>(l[1]), v1.version_id);
  EXPECT_TRUE(get_version("d/f", v1.version_id) == big('1'));
  std::string now = big('1');
  now.replace(0, 6, "ABCDEF");
  EXPECT_TRUE(get("d/f") == now);
  EXPECT_NE(gw_->head_object(ns_, "d/f")->version_id, v1.version_id);
  expect_references_agree();
  // A truncate after a pause is a version too.
  env_.clock_.advance_ns(kVersionBurstNs + 1);
  SetAttrRequest trunc;
  trunc.size = 3;
  ASSERT_TRUE(gw_->setattr(ns_, ino("d/f"), trunc).is_ok());
  EXPECT_EQ(get("d/f"), "ABC");
  EXPECT_EQ(listed().size(), 3u);
  expect_references_agree();
}

TEST_F(FileVersionsTest, UnlinkAndRenameKeepVersions) {
  set_versioning("Enabled");
  auto dir = gw_->mkdir(ns_, ns::kRootInode, "docs", 0755, {});
  ASSERT_TRUE(dir.is_ok());
  auto f = gw_->create(ns_, dir->ino, "a.txt", 0644, {}, false);
  ASSERT_TRUE(f.is_ok());
  ASSERT_TRUE(gw_->write(ns_, f->ino, 0, as_bytes(big('a'))).is_ok());
  env_.clock_.advance_ns(1000);
  auto t = gw_->create(ns_, dir->ino, "a.txt.tmp", 0644, {}, false);
  ASSERT_TRUE(gw_->write(ns_, t->ino, 0, as_bytes(std::string("new"))).is_ok());
  // An editor's save: the temporary file renamed over the old one.
  ASSERT_TRUE(gw_->rename(ns_, dir->ino, "a.txt.tmp", dir->ino, "a.txt").is_ok());
  EXPECT_EQ(get("docs/a.txt"), "new");
  auto l = listed("docs/a");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_TRUE(get_version("docs/a.txt", std::get<1>(l[1])) == big('a'));
  expect_references_agree();
  // An unlink: a delete marker, the file kept.
  Status un = gw_->unlink(ns_, dir->ino, "a.txt");
  ASSERT_TRUE(un.is_ok()) << un.to_string();
  EXPECT_EQ(gw_->lookup(ns_, dir->ino, "a.txt").code(), ErrorCode::kNotFound);
  l = listed("docs/a");
  ASSERT_EQ(l.size(), 3u);
  EXPECT_TRUE(std::get<3>(l[0]));
  EXPECT_EQ(get_version("docs/a.txt", std::get<1>(l[1])), "new");
  expect_references_agree();
  // The explicit directory stays (it is no key prefix only).
  EXPECT_TRUE(gw_->lookup(ns_, ns::kRootInode, "docs").is_ok());
}

}  // namespace
}  // namespace kiseki::gateway
