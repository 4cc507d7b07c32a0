#include <thread>

#include "common/metrics.h"
#include "fixture.h"

namespace kiseki::gateway {

constexpr InodeId kRoot = ns::kRootInode;

TEST_F(GatewayTest, CreateWriteReadAppendOverwrite) {
  auto f = gw_->create(ns_, kRoot, "f", 0644, who_, true);
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->uid, 1000u);
  ASSERT_TRUE(gw_->write(ns_, f->ino, 0, as_bytes("hello")).is_ok());
  ASSERT_TRUE(gw_->write(ns_, f->ino, 5, as_bytes(" world")).is_ok());  // append
  EXPECT_EQ(read_file(f->ino), "hello world");
  // Grow past the inline threshold, then overwrite in the middle (copy-on-write).
  std::string big = kiseki::testing::random_bytes(300000, 1);
  ASSERT_TRUE(gw_->write(ns_, f->ino, 11, as_bytes(big)).is_ok());
  ASSERT_TRUE(gw_->write(ns_, f->ino, 1000, as_bytes("XYZ")).is_ok());
  std::string expect = "hello world" + big;
  expect.replace(1000, 3, "XYZ");
  EXPECT_EQ(read_file(f->ino), expect);
  EXPECT_EQ(read_file(f->ino, 998, 7), expect.substr(998, 7));
  EXPECT_EQ(gw_->getattr(ns_, f->ino)->size, expect.size());
  EXPECT_EQ(read_file(f->ino, expect.size() + 10, 10), "");
  // Found by fuzz_native_service: a read of no bytes (inline or not) is empty, not UB.
  EXPECT_EQ(read_file(f->ino, 0, 0), "");
  auto small = gw_->create(ns_, kRoot, "small", 0644, who_, true);
  ASSERT_TRUE(gw_->write(ns_, small->ino, 0, as_bytes("abc")).is_ok());
  EXPECT_EQ(read_file(small->ino, 1, 0), "");
}

TEST_F(GatewayTest, HolesReadAsZerosAndTruncate) {
  auto f = *gw_->create(ns_, kRoot, "sparse", 0600, who_, true);
  ASSERT_TRUE(gw_->write(ns_, f.ino, 100000, as_bytes("tail")).is_ok());
  std::string data = read_file(f.ino);
  ASSERT_EQ(data.size(), 100004u);
  EXPECT_EQ(data.substr(0, 100000), std::string(100000, '\0'));
  EXPECT_EQ(data.substr(100000), "tail");
  SetAttrRequest shrink;
  shrink.size = 100002;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, shrink).is_ok());
  EXPECT_EQ(read_file(f.ino).substr(100000), "ta");
  SetAttrRequest grow;
  grow.size = 100010;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, grow).is_ok());
  EXPECT_EQ(read_file(f.ino).substr(100000), std::string("ta") + std::string(8, '\0'));
  SetAttrRequest zero;
  zero.size = 0;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, zero).is_ok());
  EXPECT_EQ(read_file(f.ino), "");
  // Small file truncated up beyond the inline limit keeps its bytes.
  ASSERT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes("abc")).is_ok());
  SetAttrRequest big;
  big.size = 20000;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, big).is_ok());
  std::string got = read_file(f.ino);
  ASSERT_EQ(got.size(), 20000u);
  EXPECT_EQ(got.substr(0, 3), "abc");
  EXPECT_EQ(got.substr(3), std::string(19997, '\0'));
}

TEST_F(GatewayTest, ExclusiveCreateAndOpenExisting) {
  auto a = *gw_->create(ns_, kRoot, "x", 0644, who_, true);
  EXPECT_EQ(gw_->create(ns_, kRoot, "x", 0644, who_, true).code(), ErrorCode::kExists);
  auto again = gw_->create(ns_, kRoot, "x", 0644, who_, false);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->ino, a.ino);
  ASSERT_TRUE(gw_->mkdir(ns_, kRoot, "d", 0755, who_).is_ok());
  EXPECT_EQ(gw_->create(ns_, kRoot, "d", 0644, who_, false).code(), ErrorCode::kExists);
  EXPECT_EQ(gw_->mkdir(ns_, kRoot, "d", 0755, who_).code(), ErrorCode::kExists);
}

TEST_F(GatewayTest, DirectoriesAndRmdir) {
  auto d = *gw_->mkdir(ns_, kRoot, "d", 0755, who_);
  EXPECT_EQ(d.type, FileType::kDirectory);
  EXPECT_EQ(gw_->getattr(ns_, kRoot)->nlink, 3u);
  auto f = *gw_->create(ns_, d.ino, "f", 0644, who_, true);
  EXPECT_EQ(gw_->rmdir(ns_, kRoot, "d").code(), ErrorCode::kNotEmpty);
  EXPECT_EQ(gw_->unlink(ns_, kRoot, "d").code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(gw_->rmdir(ns_, d.ino, "f").code(), ErrorCode::kNotDirectory);
  EXPECT_EQ(gw_->create(ns_, f.ino, "g", 0644, who_, true).code(), ErrorCode::kNotDirectory);
  ASSERT_TRUE(gw_->unlink(ns_, d.ino, "f").is_ok());
  ASSERT_TRUE(gw_->rmdir(ns_, kRoot, "d").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, kRoot, "d").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->getattr(ns_, d.ino).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->getattr(ns_, kRoot)->nlink, 2u);
}

TEST_F(GatewayTest, RenameFollowsPosix) {
  auto a = *gw_->create(ns_, kRoot, "a", 0644, who_, true);
  ASSERT_TRUE(gw_->write(ns_, a.ino, 0, as_bytes(kiseki::testing::random_bytes(50000, 2))).is_ok());
  auto b = *gw_->create(ns_, kRoot, "b", 0644, who_, true);
  ASSERT_TRUE(gw_->write(ns_, b.ino, 0, as_bytes(kiseki::testing::random_bytes(50000, 3))).is_ok());
  std::string a_data = read_file(a.ino);
  // Over an existing file: the target's inode and its chunks go.
  ASSERT_TRUE(gw_->rename(ns_, kRoot, "a", kRoot, "b").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, kRoot, "b")->ino, a.ino);
  EXPECT_EQ(gw_->getattr(ns_, b.ino).code(), ErrorCode::kStale);
  EXPECT_EQ(read_file(a.ino), a_data);
  // Across directories, directories themselves, and the POSIX refusals.
  auto d1 = *gw_->mkdir(ns_, kRoot, "d1", 0755, who_);
  auto d2 = *gw_->mkdir(ns_, kRoot, "d2", 0755, who_);
  ASSERT_TRUE(gw_->rename(ns_, kRoot, "b", d1.ino, "moved").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, d1.ino, "moved")->ino, a.ino);
  ASSERT_TRUE(gw_->rename(ns_, kRoot, "d1", d2.ino, "inner").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, d2.ino, "inner")->ino, d1.ino);
  EXPECT_EQ(gw_->getattr(ns_, kRoot)->nlink, 3u);
  EXPECT_EQ(gw_->getattr(ns_, d2.ino)->nlink, 3u);
  EXPECT_EQ(gw_->rename(ns_, kRoot, "d2", d1.ino, "loop").code(), ErrorCode::kInvalidArgument);
  auto e = *gw_->mkdir(ns_, kRoot, "e", 0755, who_);
  ASSERT_TRUE(gw_->create(ns_, e.ino, "x", 0644, who_, true).is_ok());
  EXPECT_EQ(gw_->rename(ns_, d2.ino, "inner", kRoot, "e").code(), ErrorCode::kNotEmpty);
  auto f = *gw_->create(ns_, kRoot, "f", 0644, who_, true);
  EXPECT_EQ(gw_->rename(ns_, kRoot, "f", kRoot, "e").code(), ErrorCode::kIsDirectory);
  EXPECT_EQ(gw_->rename(ns_, kRoot, "e", kRoot, "f").code(), ErrorCode::kNotDirectory);
  auto empty = *gw_->mkdir(ns_, kRoot, "empty", 0755, who_);
  ASSERT_TRUE(gw_->rename(ns_, kRoot, "e", kRoot, "empty").is_ok());  // over an empty dir
  EXPECT_EQ(gw_->getattr(ns_, empty.ino).code(), ErrorCode::kStale);
  EXPECT_EQ(gw_->rename(ns_, kRoot, "missing", kRoot, "z").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(gw_->rename(ns_, kRoot, "f", kRoot, "f").is_ok());
  EXPECT_EQ(gw_->lookup(ns_, kRoot, "f")->ino, f.ino);
}

TEST_F(GatewayTest, HardLinksAndSymlinks) {
  auto f = *gw_->create(ns_, kRoot, "f", 0644, who_, true);
  ASSERT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes(kiseki::testing::random_bytes(20000, 4))).is_ok());
  auto l = gw_->link(ns_, f.ino, kRoot, "g");
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(l->nlink, 2u);
  std::string data = read_file(f.ino);
  ASSERT_TRUE(gw_->unlink(ns_, kRoot, "f").is_ok());
  EXPECT_EQ(gw_->getattr(ns_, f.ino)->nlink, 1u);
  EXPECT_EQ(read_file(gw_->lookup(ns_, kRoot, "g")->ino), data);
  auto d = *gw_->mkdir(ns_, kRoot, "d", 0755, who_);
  EXPECT_EQ(gw_->link(ns_, d.ino, kRoot, "dl").code(), ErrorCode::kPermissionDenied);
  auto s = gw_->symlink(ns_, kRoot, "s", "../target/path", who_);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->type, FileType::kSymlink);
  EXPECT_EQ(*gw_->readlink(ns_, s->ino), "../target/path");
  EXPECT_EQ(gw_->readlink(ns_, f.ino).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->symlink(ns_, kRoot, "s2", "", who_).code(), ErrorCode::kInvalidArgument);
}

TEST_F(GatewayTest, SetattrModeOwnerTimes) {
  auto f = *gw_->create(ns_, kRoot, "f", 0644, who_, true);
  SetAttrRequest r;
  r.mode = 0100755;  // type bits are dropped
  r.uid = 7;
  r.gid = 8;
  r.atime_ns = 1000;
  r.mtime_ns = 2000;
  auto a = gw_->setattr(ns_, f.ino, r);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->mode, 0755u);
  EXPECT_EQ(a->uid, 7u);
  EXPECT_EQ(a->gid, 8u);
  EXPECT_EQ(a->atime_ns, 1000);
  EXPECT_EQ(a->mtime_ns, 2000);
  EXPECT_GT(a->ctime_ns, 2000);
}

TEST_F(GatewayTest, ReaddirCookiesAreStable) {
  std::set<std::string> names;
  for (int i = 0; i < 250; ++i) {
    std::string n = "file" + std::to_string(i);
    ASSERT_TRUE(gw_->create(ns_, kRoot, n, 0644, who_, true).is_ok());
    names.insert(n);
  }
  auto first = *gw_->readdir(ns_, kRoot, 0, 100);
  ASSERT_EQ(first.size(), 100u);
  // Removing entries already returned and adding new ones does not disturb the
  // continuation: every remaining old entry is returned exactly once.
  ASSERT_TRUE(gw_->unlink(ns_, kRoot, first[5].name).is_ok());
  ASSERT_TRUE(gw_->create(ns_, kRoot, "late", 0644, who_, true).is_ok());
  std::set<std::string> seen;
  for (auto& e : first) seen.insert(e.name);
  uint64_t cookie = first.back().cookie;
  for (;;) {
    auto more = *gw_->readdir(ns_, kRoot, cookie, 64);
    if (more.empty()) break;
    for (auto& e : more) EXPECT_TRUE(seen.insert(e.name).second) << e.name;
    cookie = more.back().cookie;
  }
  for (const auto& n : names) EXPECT_TRUE(seen.count(n)) << n;
  EXPECT_TRUE(seen.count("late"));
  EXPECT_EQ(gw_->readdir(ns_, kRoot, 1ull << 40, 10).code(), ErrorCode::kInvalidArgument);
}

TEST_F(GatewayTest, InodesComeFromTheCacheWhileNothingIsWritten) {
  auto f = *gw_->create(ns_, kRoot, "cached", 0644, who_, true);
  ASSERT_TRUE(gw_->getattr(ns_, f.ino).is_ok());
  auto& m = MetricsRegistry::global();
  Counter* hits = m.counter("kiseki_gateway_inode_cache_hits_total", "");
  Counter* misses = m.counter("kiseki_gateway_inode_cache_misses_total", "");
  uint64_t h = hits->value(), mi = misses->value();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(gw_->getattr(ns_, f.ino)->mode & 0777, 0644u);
  EXPECT_EQ(misses->value(), mi) << "an unchanged inode was read from the store again";
  EXPECT_GE(hits->value(), h + 10);
  EXPECT_GT(gw_->cached_inodes_for_test(), 0u);
  // Every write is seen by the next read: by the writer and by anyone.
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, chmod, who_).is_ok());
  EXPECT_EQ(gw_->getattr(ns_, f.ino)->mode & 0777, 0600u);
  ASSERT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes(std::string(777, 'y'))).is_ok());
  EXPECT_EQ(gw_->getattr(ns_, f.ino)->size, 777u);
  EXPECT_EQ(read_file(f.ino), std::string(777, 'y'));
  ASSERT_TRUE(gw_->unlink(ns_, kRoot, "cached", who_).is_ok());
  EXPECT_FALSE(gw_->getattr(ns_, f.ino).is_ok());
}

TEST_F(GatewayTest, ReaddirPlusCarriesEachEntrysAttributes) {
  for (int i = 0; i < 40; ++i) {
    auto f = gw_->create(ns_, kRoot, "p" + std::to_string(i), 0600 + i % 8, who_, true);
    ASSERT_TRUE(f.is_ok());
    ASSERT_TRUE(gw_->write(ns_, f->ino, 0, as_bytes(std::string(i, 'x'))).is_ok());
  }
  ASSERT_TRUE(gw_->mkdir(ns_, kRoot, "sub", 0755, who_).is_ok());
  ASSERT_TRUE(gw_->unlink(ns_, kRoot, "p7").is_ok());
  size_t n = 0;
  uint64_t cookie = 0;
  for (;;) {
    auto batch = gw_->readdir_plus(ns_, kRoot, cookie, 16);
    ASSERT_TRUE(batch.is_ok());
    if (batch->empty()) break;
    for (const auto& e : *batch) {
      auto a = gw_->getattr(ns_, e.entry.ino);
      ASSERT_TRUE(a.is_ok());
      EXPECT_EQ(e.attr.ino, e.entry.ino);
      EXPECT_EQ(e.attr.size, a->size) << e.entry.name;
      EXPECT_EQ(e.attr.mode, a->mode) << e.entry.name;
      EXPECT_EQ(e.attr.type, e.entry.type);
      EXPECT_NE(e.entry.name, "p7");
      ++n;
    }
    cookie = batch->back().entry.cookie;
  }
  EXPECT_EQ(n, 40u);  // 39 files and the directory
}

TEST_F(GatewayTest, ConcurrentWritersOnManyFiles) {
  constexpr int kThreads = 8, kFiles = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFiles; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto f = gw_->create(ns_, kRoot, name, 0644, who_, true);
        if (!f) { ++failures; continue; }
        std::string data = kiseki::testing::random_bytes(10000 + i, t * 100 + i);
        if (!gw_->write(ns_, f->ino, 0, as_bytes(data)).is_ok()) ++failures;
      }
    });
  }
  // Many writers to one file at disjoint offsets: nothing may be lost.
  auto shared = *gw_->create(ns_, kRoot, "shared", 0644, who_, true);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string block(8192, static_cast<char>('a' + t));
        if (!gw_->write(ns_, shared.ino, (t * 10 + i) * 8192ull, as_bytes(block)).is_ok()) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kFiles; ++i) {
      auto a = gw_->lookup(ns_, kRoot, "t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(a.is_ok());
      EXPECT_EQ(read_file(a->ino), kiseki::testing::random_bytes(10000 + i, t * 100 + i));
    }
  std::string all = read_file(shared.ino);
  ASSERT_EQ(all.size(), kThreads * 10 * 8192u);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(all.substr(t * 10 * 8192, 10 * 8192), std::string(10 * 8192, static_cast<char>('a' + t)));
}

TEST_F(GatewayTest, FilesSurviveReopen) {
  auto f = *gw_->create(ns_, kRoot, "keep", 0644, who_, true);
  std::string data = kiseki::testing::random_bytes(123456, 77);
  ASSERT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes(data)).is_ok());
  reopen();
  EXPECT_EQ(gw_->lookup(ns_, kRoot, "keep")->ino, f.ino);
  EXPECT_EQ(read_file(f.ino), data);
  auto g = *gw_->create(ns_, kRoot, "after", 0644, who_, true);
  EXPECT_GT(g.ino, f.ino) << "inode numbers are never reused";
}

}  // namespace kiseki::gateway
