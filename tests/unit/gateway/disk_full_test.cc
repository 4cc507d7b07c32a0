// A full disk: new data is refused (kNoSpace: S3 507, NFS NOSPC) while the
// reserve is left for deletes; deleting objects then frees space without a
// restart, even when every byte sits in the newest segment (compaction seals
// it and takes it), and nothing acknowledged is lost.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "fixture.h"

namespace kiseki::gateway {
namespace {

// A file system of `quota` bytes: what is free is the quota less the sizes of
// the files under the root.
class QuotaEnv final : public Env {
 public:
  QuotaEnv(std::string root, uint64_t quota) : root_(std::move(root)), quota_(quota) {}
  Result<uint64_t> free_bytes(const std::string&) const override {
    uint64_t used = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_, ec))
      if (e.is_regular_file(ec)) used += e.file_size(ec);
    return used >= quota_ ? 0 : quota_ - used;
  }

 private:
  std::string root_;
  uint64_t quota_;
};

std::string random_body(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class DiskFullTest : public GatewayTest {
 protected:
  GatewayOptions options() override {
    GatewayOptions o = GatewayTest::options();
    o.segment_bytes = 64 << 20;  // larger than the disk: every chunk stays in the newest segment
    o.reserve_bytes = 1 << 20;
    o.env = &env_;
    return o;
  }
  void TearDown() override { gw_.reset(); }  // before env_ goes
  QuotaEnv env_{dir_.path(), 8 << 20};
};

TEST_F(DiskFullTest, DeletesFreeSpaceWithoutARestart) {
  std::map<std::string, std::string> acked;
  Status refused;
  for (int i = 0; i < 100; ++i) {
    std::string key = "obj" + std::to_string(i), body = random_body(i, 200 << 10);
    auto r = gw_->put_object(ns_, key, source_from(as_bytes(body)), {});
    if (!r) {
      refused = r.status();
      break;
    }
    acked[key] = body;
  }
  ASSERT_EQ(refused.code(), ErrorCode::kNoSpace) << refused.to_string();
  ASSERT_GE(acked.size(), 10u);
  EXPECT_NE(refused.message().find("kept for deletes"), std::string::npos) << refused.message();
  ASSERT_EQ(gw_->chunks_for_test()->segments()->segments().size(), 1u);

  // Deletes are metadata: they fit in the reserve.
  std::vector<std::string> keys;
  for (const auto& [k, v] : acked) keys.push_back(k);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i % 5 == 0) continue;  // one in five stays
    ASSERT_TRUE(gw_->delete_object(ns_, keys[i]).is_ok()) << keys[i];
    acked.erase(keys[i]);
  }

  // The space comes back in the background, without a restart.
  std::string body = random_body(1000, 200 << 10);
  Status st;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    st = gw_->put_object(ns_, "after", source_from(as_bytes(body)), {}).status();
    if (st.is_ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(st.is_ok()) << "no space came back after deleting 80% of the data: " << st.to_string();
  acked["after"] = body;
  // The newest segment was sealed and compacted.
  EXPECT_GT(gw_->chunks_for_test()->segments()->active_segment(), 1u);

  for (const auto& [k, v] : acked) EXPECT_EQ(get(k), v) << k;
  for (const auto& k : keys) {
    if (acked.count(k)) continue;
    EXPECT_EQ(gw_->head_object(ns_, k).status().code(), ErrorCode::kNotFound) << k;
  }
  auto refs = gw_->check_references();
  ASSERT_TRUE(refs.is_ok());
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  auto scrub = gw_->scrub();
  EXPECT_TRUE(scrub.problems.empty()) << scrub.problems.front();
  reopen();
  for (const auto& [k, v] : acked) EXPECT_EQ(get(k), v) << k;
}

}  // namespace
}  // namespace kiseki::gateway
