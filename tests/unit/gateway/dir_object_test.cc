// Keys that are also prefixes (ADR 0013): a directory carries the object of its
// own key. S3 semantics (reads, replaces, deletes, listings in S3 order,
// versions), the file API's view (the ".kiseki-object" entry), and the chunk
// references of all of it, checked against the layouts after every step.
#include <unistd.h>

#include "fixture.h"

namespace kiseki::gateway {
namespace {

class DirObjectTest : public GatewayTest {
 protected:
  void expect_references_agree() {
    auto refs = gw_->check_references();
    ASSERT_TRUE(refs.is_ok()) << refs.status().to_string();
    EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  }
  // Keys and common prefixes in listing order, "/" as the delimiter if asked.
  std::vector<std::string> keys(const std::string& prefix = "", bool delimited = false, uint32_t page = 1000) {
    std::vector<std::string> out;
    ListRequest req;
    req.prefix = prefix;
    req.delimiter = delimited ? "/" : "";
    req.max_keys = page;
    for (int pages = 0; pages < 100; ++pages) {
      auto r = gw_->list_objects(ns_, req);
      EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      if (!r) break;
      // Merge objects and prefixes in S3 order, as a page holds them.
      std::vector<std::string> page_keys;
      for (const auto& o : r->objects) page_keys.push_back(o.key);
      for (const auto& p : r->common_prefixes) page_keys.push_back("P:" + p);
      std::sort(page_keys.begin(), page_keys.end(), [](const std::string& a, const std::string& b) {
        auto bare = [](const std::string& s) { return s.starts_with("P:") ? s.substr(2) : s; };
        return bare(a) < bare(b);
      });
      out.insert(out.end(), page_keys.begin(), page_keys.end());
      if (!r->truncated) break;
      req.start_after = r->next_start_after;
    }
    return out;
  }
  FileAttr lookup(InodeId dir, const std::string& name) {
    auto a = gw_->lookup(ns_, dir, name);
    EXPECT_TRUE(a.is_ok()) << name << ": " << a.status().to_string();
    return a.is_ok() ? *a : FileAttr{};
  }
  static std::string big(char c) { return std::string(300000, c); }  // chunked, not inline
};

TEST_F(DirObjectTest, AnObjectBecomesAPrefixAndBack) {
  put("logs", big('L'));
  auto file = gw_->lookup(ns_, ns::kRootInode, "logs");
  ASSERT_TRUE(file.is_ok());
  put("logs/2026/a", "a");
  EXPECT_TRUE(get("logs") == big('L'));
  EXPECT_EQ(get("logs/2026/a"), "a");
  auto h = gw_->head_object(ns_, "logs");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->size, big('L').size());
  EXPECT_EQ(h->etag.size(), 32u);
  // The file became a directory with the same number and a new generation:
  // handles issued for the file are stale.
  FileAttr dir = lookup(ns::kRootInode, "logs");
  EXPECT_EQ(dir.type, FileType::kDirectory);
  EXPECT_EQ(dir.ino, file->ino);
  EXPECT_NE(dir.generation, file->generation);
  EXPECT_EQ(dir.size, 0u);
  expect_references_agree();
  // Replacing the object keeps the keys below it.
  put("logs", "short");
  EXPECT_EQ(get("logs"), "short");
  EXPECT_EQ(get("logs/2026/a"), "a");
  expect_references_agree();
  // The keys below go: the directory stays for its object.
  ASSERT_TRUE(gw_->delete_object(ns_, "logs/2026/a").is_ok());
  EXPECT_EQ(get("logs"), "short");
  EXPECT_EQ(keys(), std::vector<std::string>{"logs"});
  // The object goes: so does the implicit directory.
  put("logs", big('M'));
  ASSERT_TRUE(gw_->delete_object(ns_, "logs").is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "logs").code(), ErrorCode::kNotFound);
  EXPECT_TRUE(keys().empty());
  EXPECT_EQ(gw_->lookup(ns_, ns::kRootInode, "logs").code(), ErrorCode::kNotFound);
  expect_references_agree();
  auto usage = gw_->usage();
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->total.files, 0u);
  EXPECT_EQ(usage->total.chunks, 0u);
}

TEST_F(DirObjectTest, LastModifiedIsTheObjectsOwn) {
  ObjectInfo m = put("m", "object m");
  usleep(2000);
  put("m/x", "x");  // the file becomes a directory: the object keeps its time
  EXPECT_EQ(gw_->head_object(ns_, "m")->mtime_ns, m.mtime_ns);
  ObjectInfo again = put("m", "written again");
  usleep(2000);
  put("m/y", "y");  // an entry below moves the directory's time, not the object's
  EXPECT_EQ(gw_->head_object(ns_, "m")->mtime_ns, again.mtime_ns);
  FileAttr dir = lookup(ns::kRootInode, "m");
  EXPECT_GT(dir.mtime_ns, again.mtime_ns);
  EXPECT_EQ(lookup(dir.ino, ".kiseki-object").mtime_ns, again.mtime_ns);
  ListRequest req;
  auto listed = gw_->list_objects(ns_, req);
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->objects.front().key, "m");
  EXPECT_EQ(listed->objects.front().mtime_ns, again.mtime_ns);
  reopen();
  EXPECT_EQ(gw_->head_object(ns_, "m")->mtime_ns, again.mtime_ns);
}

TEST_F(DirObjectTest, KeysBelowFirstThenTheObject) {
  put("p/q/r", big('r'));
  put("p/q", big('q'));
  put("p/q/", "");  // the folder marker too: a third thing at the same name
  EXPECT_TRUE(get("p/q") == big('q'));
  EXPECT_EQ(gw_->head_object(ns_, "p/q/")->size, 0u);
  EXPECT_TRUE(get("p/q/r") == big('r'));
  auto usage = gw_->usage();
  ASSERT_TRUE(usage.is_ok());
  EXPECT_EQ(usage->total.files, 2u);
  EXPECT_EQ(usage->total.logical_bytes, 2 * big('q').size());
  // The object goes, the keys below it stay.
  ASSERT_TRUE(gw_->delete_object(ns_, "p/q").is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "p/q").code(), ErrorCode::kNotFound);
  EXPECT_TRUE(get("p/q/r") == big('r'));
  EXPECT_EQ(gw_->delete_object(ns_, "p/q").code(), ErrorCode::kNotFound);
  // The folder marker deleted leaves the object (written again) and keys.
  put("p/q", "again");
  ASSERT_TRUE(gw_->delete_object(ns_, "p/q/").is_ok());
  EXPECT_EQ(get("p/q"), "again");
  ASSERT_TRUE(gw_->delete_object(ns_, "p/q/r").is_ok());
  EXPECT_EQ(keys(), std::vector<std::string>{"p/q"});
  reopen();
  EXPECT_EQ(get("p/q"), "again");
  expect_references_agree();
  // A folder marker made over an object: both stay.
  put("f", "object f");
  put("f/", "");
  EXPECT_EQ(get("f"), "object f");
  EXPECT_EQ(gw_->head_object(ns_, "f/")->size, 0u);
}

TEST_F(DirObjectTest, ListingsInS3Order) {
  for (const char* k : {"logs/2026/a", "logs", "logs-x", "logs.txt", "logs/b", "logsz", "l"}) put(k, k);
  std::vector<std::string> all{"l", "logs", "logs-x", "logs.txt", "logs/2026/a", "logs/b", "logsz"};
  EXPECT_EQ(keys(), all);
  for (uint32_t page : {1u, 2u, 3u}) EXPECT_EQ(keys("", false, page), all) << "page " << page;
  EXPECT_EQ(keys("", true), (std::vector<std::string>{"l", "logs", "logs-x", "logs.txt", "P:logs/", "logsz"}));
  EXPECT_EQ(keys("", true, 1), (std::vector<std::string>{"l", "logs", "logs-x", "logs.txt", "P:logs/", "logsz"}));
  EXPECT_EQ(keys("logs", true), (std::vector<std::string>{"logs", "logs-x", "logs.txt", "P:logs/", "logsz"}));
  EXPECT_EQ(keys("logs/", true), (std::vector<std::string>{"P:logs/2026/", "logs/b"}));
  // A listing that starts after the object resumes at the keys below it.
  ListRequest req;
  req.start_after = "logs";
  auto r = gw_->list_objects(ns_, req);
  ASSERT_TRUE(r.is_ok());
  ASSERT_FALSE(r->objects.empty());
  EXPECT_EQ(r->objects.front().key, "logs-x");
  EXPECT_EQ(r->objects.front().size, 6u);
}

TEST_F(DirObjectTest, TheReservedNameAndCopies) {
  EXPECT_EQ(gw_->put_object(ns_, "a/.kiseki-object", source_from(as_bytes(std::string("x"))), {}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->put_object(ns_, ".kiseki-object/b", source_from(as_bytes(std::string("x"))), {}).code(),
            ErrorCode::kInvalidArgument);
  put("src", big('s'));
  put("dst/below", "b");
  ASSERT_TRUE(gw_->copy_object(ns_, "src", ns_, "dst", std::nullopt).is_ok());
  EXPECT_TRUE(get("dst") == big('s'));
  ASSERT_TRUE(gw_->copy_object(ns_, "dst", ns_, "src/below", std::nullopt).is_ok());
  EXPECT_TRUE(get("src") == big('s'));
  EXPECT_TRUE(get("src/below") == big('s'));
  expect_references_agree();
}

TEST_F(DirObjectTest, VersionsOfADirectorysObject) {
  ASSERT_TRUE(gw_->put_namespace_config(ns_, kVersioningItem, "Enabled").is_ok());
  ObjectInfo v1 = put("v", big('1'));
  put("v/x", "x");
  ObjectInfo v2 = put("v", big('2'));
  EXPECT_TRUE(get("v") == big('2'));
  auto old = gw_->open_object_version(ns_, "v", v1.version_id);
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->info.size, big('1').size());
  DeletedObject marker;
  ASSERT_TRUE(gw_->delete_object(ns_, "v", {}, &marker).is_ok());
  EXPECT_TRUE(marker.delete_marker);
  EXPECT_EQ(gw_->head_object(ns_, "v").code(), ErrorCode::kNotFound);
  EXPECT_EQ(get("v/x"), "x");
  expect_references_agree();
  // The marker goes: v2 is back on the directory; then v2 goes: v1 is.
  ASSERT_TRUE(gw_->delete_object_version(ns_, "v", marker.version_id).is_ok());
  EXPECT_TRUE(get("v") == big('2'));
  ASSERT_TRUE(gw_->delete_object_version(ns_, "v", v2.version_id).is_ok());
  EXPECT_TRUE(get("v") == big('1'));
  EXPECT_EQ(gw_->head_object(ns_, "v")->version_id, v1.version_id);
  expect_references_agree();
  ASSERT_TRUE(gw_->delete_object_version(ns_, "v", v1.version_id).is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "v").code(), ErrorCode::kNotFound);
  EXPECT_EQ(get("v/x"), "x");
  expect_references_agree();
}

TEST_F(DirObjectTest, TheFileApiSeesTheObjectEntry) {
  put("d/child", "child");
  put("d", big('d'));
  FileAttr dir = lookup(ns::kRootInode, "d");
  // readdir lists the object's entry after the real ones, in pages too.
  for (size_t page : {1ul, 100ul}) {
    std::vector<std::string> names;
    uint64_t cookie = 0;
    for (int k = 0; k < 10; ++k) {
      auto entries = gw_->readdir_plus(ns_, dir.ino, cookie, page, who_);
      ASSERT_TRUE(entries.is_ok()) << entries.status().to_string();
      if (entries->empty()) break;
      for (const auto& e : *entries) {
        names.push_back(e.entry.name);
        cookie = e.entry.cookie;
        if (e.entry.name == ".kiseki-object") {
          EXPECT_EQ(e.attr.size, big('d').size());
        }
      }
    }
    EXPECT_EQ(names, (std::vector<std::string>{"child", ".kiseki-object"})) << "page " << page;
  }
  FileAttr obj = lookup(dir.ino, ".kiseki-object");
  EXPECT_EQ(obj.type, FileType::kFile);
  EXPECT_EQ(obj.size, big('d').size());
  EXPECT_TRUE(read_file(obj.ino) == big('d'));
  // A write through the file API changes the object.
  ASSERT_TRUE(gw_->write(ns_, obj.ino, 0, as_bytes(std::string("XY"))).is_ok());
  std::string want = big('d');
  want.replace(0, 2, "XY");
  EXPECT_TRUE(get("d") == want);
  SetAttrRequest trunc;
  trunc.size = 5;
  ASSERT_TRUE(gw_->setattr(ns_, obj.ino, trunc).is_ok());
  EXPECT_EQ(get("d"), "XYddd");
  SetAttrRequest chmod;
  chmod.mode = 0600;
  EXPECT_EQ(gw_->setattr(ns_, obj.ino, chmod).code(), ErrorCode::kNotPermitted);
  expect_references_agree();
  // The reserved name cannot be made where there is no object, nor renamed to.
  EXPECT_EQ(gw_->create(ns_, ns::kRootInode, ".kiseki-object", 0644, who_, true).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->rename(ns_, dir.ino, "child", dir.ino, ".kiseki-object", who_).code(), ErrorCode::kInvalidArgument);
  // rmdir sees the object as an entry.
  ASSERT_TRUE(gw_->delete_object(ns_, "d/child").is_ok());
  EXPECT_EQ(gw_->rmdir(ns_, ns::kRootInode, "d").code(), ErrorCode::kNotEmpty);
  // Removing the entry deletes the object; the empty implicit directory goes.
  ASSERT_TRUE(gw_->unlink(ns_, dir.ino, ".kiseki-object").is_ok());
  EXPECT_EQ(gw_->head_object(ns_, "d").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->getattr(ns_, obj.ino).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->lookup(ns_, ns::kRootInode, "d").code(), ErrorCode::kNotFound);
  expect_references_agree();
}

TEST_F(DirObjectTest, HardLinkedAndLockedFiles) {
  put("h", "linked");
  FileAttr f = lookup(ns::kRootInode, "h");
  ASSERT_TRUE(gw_->link(ns_, f.ino, ns::kRootInode, "h2").is_ok());
  // A file with other names cannot become a directory.
  EXPECT_EQ(gw_->put_object(ns_, "h/x", source_from(as_bytes(std::string("x"))), {}).code(),
            ErrorCode::kNotDirectory);
  ObjectMeta locked;
  locked.lock.legal_hold = true;
  ASSERT_TRUE(gw_->put_object(ns_, "l", source_from(as_bytes(std::string("kept"))), locked).is_ok());
  put("l/x", "x");  // the object stays as it is: allowed
  EXPECT_EQ(get("l"), "kept");
  EXPECT_EQ(gw_->delete_object(ns_, "l").code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(gw_->put_object(ns_, "l", source_from(as_bytes(std::string("new"))), {}).code(),
            ErrorCode::kNotPermitted);
  FileAttr dir = lookup(ns::kRootInode, "l");
  EXPECT_EQ(gw_->unlink(ns_, dir.ino, ".kiseki-object").code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(gw_->head_object(ns_, "l")->meta.lock.legal_hold, true);
  ASSERT_TRUE(gw_->set_object_lock(ns_, "l", "", ns::kSetLegalHold, ns::ObjectLock{}, false).is_ok());
  ASSERT_TRUE(gw_->delete_object(ns_, "l").is_ok());
  EXPECT_EQ(get("l/x"), "x");
  expect_references_agree();
}

}  // namespace
}  // namespace kiseki::gateway
