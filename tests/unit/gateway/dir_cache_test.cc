// Listings with attributes served from the cache of listings (gateway/dir_cache.h):
// the same answers as the store's, every write seen at once.
#include <algorithm>
#include <map>

#include "gateway/dir_cache.h"
#include "common/metrics.h"
#include "meta/store.h"
#include "fixture.h"

namespace kiseki::gateway {
namespace {

class DirCacheTest : public GatewayTest {
 protected:
  GatewayOptions options() override {
    GatewayOptions o = GatewayTest::options();
    o.durability = Durability::kNone;  // many creates; durability is not what is tested
    return o;
  }
  void make_files(int n) {
    for (int i = 0; i < n; ++i) {
      auto f = gw_->create(ns_, ns::kRootInode, "f" + std::to_string(i), 0644, who_, true);
      ASSERT_TRUE(f.is_ok()) << f.status().to_string();
      ino_["f" + std::to_string(i)] = f->ino;
    }
  }
  // The whole root listing, `page` entries per call, by name.
  std::map<std::string, DirEntryPlus> list_all(size_t page) {
    std::map<std::string, DirEntryPlus> all;
    uint64_t cookie = 0;
    for (;;) {
      auto batch = gw_->readdir_plus(ns_, ns::kRootInode, cookie, page, who_);
      EXPECT_TRUE(batch.is_ok()) << batch.status().to_string();
      if (!batch.is_ok() || batch->empty()) break;
      for (const auto& e : *batch) EXPECT_TRUE(all.emplace(e.entry.name, e).second) << e.entry.name;
      cookie = batch->back().entry.cookie;
    }
    return all;
  }
  // The listing matches the store: each entry's attributes as getattr reads
  // them, and the names as a plain readdir reads them.
  void expect_fresh(const std::map<std::string, DirEntryPlus>& all) {
    size_t names = 0;
    uint64_t cookie = 0;
    for (;;) {
      auto batch = gw_->readdir(ns_, ns::kRootInode, cookie, 500, who_);
      ASSERT_TRUE(batch.is_ok());
      if (batch->empty()) break;
      for (const auto& e : *batch) EXPECT_TRUE(all.count(e.name)) << e.name << " missing from the listing";
      names += batch->size();
      cookie = batch->back().cookie;
    }
    EXPECT_EQ(all.size(), names);
    for (const auto& [name, e] : all) {
      auto a = gw_->getattr(ns_, e.entry.ino);
      ASSERT_TRUE(a.is_ok()) << name;
      EXPECT_EQ(e.attr.ino, e.entry.ino) << name;
      EXPECT_EQ(e.attr.size, a->size) << name;
      EXPECT_EQ(e.attr.mode, a->mode) << name;
      EXPECT_EQ(e.attr.mtime_ns, a->mtime_ns) << name;
    }
  }
  uint64_t misses() { return counter("kiseki_gateway_dir_cache_misses_total"); }
  uint64_t hits() { return counter("kiseki_gateway_dir_cache_hits_total"); }
  static uint64_t counter(const char* name) { return MetricsRegistry::global().counter(name, "")->value(); }

  std::map<std::string, InodeId> ino_;
};

TEST_F(DirCacheTest, AListingAgainIsServedFromTheCache) {
  make_files(2500);  // more than two batches of the store
  auto first = list_all(60);
  ASSERT_EQ(first.size(), 2500u);
  expect_fresh(first);
  EXPECT_GT(gw_->listings_for_test().entries(), 2400u);
  uint64_t m = misses(), h = hits();
  auto again = list_all(60);
  EXPECT_EQ(misses(), m) << "a listing of an unchanged directory read the store";
  EXPECT_GE(hits(), h + 2500 / 60);
  ASSERT_EQ(again.size(), first.size());
  for (const auto& [name, e] : first) {
    EXPECT_EQ(again.at(name).entry.cookie, e.entry.cookie) << name;
    EXPECT_EQ(again.at(name).attr.mtime_ns, e.attr.mtime_ns) << name;
  }
  // Other page sizes and every cookie a client may come back with.
  EXPECT_EQ(list_all(1).size(), 2500u);
  EXPECT_EQ(list_all(1000).size(), 2500u);
}

TEST_F(DirCacheTest, EveryWriteIsSeenAtOnce) {
  make_files(1500);
  expect_fresh(list_all(50));
  ASSERT_TRUE(gw_->create(ns_, ns::kRootInode, "late", 0600, who_, true).is_ok());
  auto all = list_all(50);
  EXPECT_TRUE(all.count("late"));
  expect_fresh(all);

  SetAttrRequest chmod;
  chmod.mode = 0700;
  ASSERT_TRUE(gw_->setattr(ns_, ino_.at("f1234"), chmod, who_).is_ok());
  all = list_all(50);
  EXPECT_EQ(all.at("f1234").attr.mode & 0777, 0700u);
  expect_fresh(all);

  ASSERT_TRUE(gw_->write(ns_, ino_.at("f77"), 0, as_bytes(std::string(4321, 'x'))).is_ok());
  all = list_all(50);
  EXPECT_EQ(all.at("f77").attr.size, 4321u);
  expect_fresh(all);

  ASSERT_TRUE(gw_->unlink(ns_, ns::kRootInode, "f999", who_).is_ok());
  ASSERT_TRUE(gw_->rename(ns_, ns::kRootInode, "f5", ns::kRootInode, "renamed", who_).is_ok());
  all = list_all(50);
  EXPECT_FALSE(all.count("f999"));
  EXPECT_FALSE(all.count("f5"));
  EXPECT_TRUE(all.count("renamed"));
  EXPECT_EQ(all.size(), 1500u);
  expect_fresh(all);
}

TEST_F(DirCacheTest, AContinuationFromAnyCookieMatchesTheStore) {
  make_files(1300);
  auto all = list_all(70);  // fills the cache
  std::vector<uint64_t> cookies;
  for (const auto& [name, e] : all) cookies.push_back(e.entry.cookie);
  std::sort(cookies.begin(), cookies.end());
  for (size_t i = 0; i < cookies.size(); i += 97) {
    auto cached = gw_->readdir_plus(ns_, ns::kRootInode, cookies[i], 33, who_);
    auto plain = gw_->readdir(ns_, ns::kRootInode, cookies[i], 33, who_);
    ASSERT_TRUE(cached.is_ok() && plain.is_ok());
    ASSERT_EQ(cached->size(), plain->size()) << "after cookie " << cookies[i];
    for (size_t k = 0; k < plain->size(); ++k) {
      EXPECT_EQ((*cached)[k].entry.name, (*plain)[k].name);
      EXPECT_EQ((*cached)[k].entry.cookie, (*plain)[k].cookie);
    }
  }
  // Past the last entry: nothing; beyond it: the store's error, not the cache's silence.
  auto end = gw_->readdir_plus(ns_, ns::kRootInode, cookies.back(), 10, who_);
  ASSERT_TRUE(end.is_ok());
  EXPECT_TRUE(end->empty());
  EXPECT_EQ(gw_->readdir_plus(ns_, ns::kRootInode, 1ull << 40, 10, who_).code(), ErrorCode::kInvalidArgument);
}

TEST_F(DirCacheTest, ACallerWhoMayNotListIsRefusedEvenWhenCached) {
  make_files(10);
  ASSERT_EQ(list_all(5).size(), 10u);
  SetAttrRequest closed;
  closed.mode = 0700;
  ASSERT_TRUE(gw_->setattr(ns_, ns::kRootInode, closed, who_).is_ok());
  ASSERT_EQ(list_all(5).size(), 10u);  // cached again, for the owner
  Caller other{2000, 2000};
  EXPECT_EQ(gw_->readdir_plus(ns_, ns::kRootInode, 0, 5, other).code(), ErrorCode::kPermissionDenied);
}

TEST(DirCacheBound, APutPastTheBoundStartsAgain) {
  DirCache cache;
  uint64_t gen = meta::Store::generation();
  std::vector<DirEntryPlus> run(DirCache::kMaxEntries / 2 + 1);
  for (size_t i = 0; i < run.size(); ++i) run[i].entry.cookie = 100 + i;
  cache.put({1, 1}, 7, 0, gen, run, true);
  cache.put({1, 1}, 8, 0, gen, run, true);
  EXPECT_EQ(cache.entries(), run.size());
  std::vector<DirEntryPlus> out;
  EXPECT_FALSE(cache.get({1, 1}, 7, 0, 10, &out));
  ASSERT_TRUE(cache.get({1, 1}, 8, 0, 10, &out));
  EXPECT_EQ(out.size(), 10u);
  ASSERT_TRUE(cache.get({1, 1}, 8, run.back().entry.cookie, 10, &out));
  EXPECT_TRUE(out.empty());  // the end
  EXPECT_FALSE(cache.get({1, 2}, 8, 0, 10, &out)) << "another namespace's directory of that number";
  cache.clear();
  EXPECT_EQ(cache.entries(), 0u);
}

}  // namespace
}  // namespace kiseki::gateway
