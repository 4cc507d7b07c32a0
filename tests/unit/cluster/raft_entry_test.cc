#include <gtest/gtest.h>

#include "cluster/raft_entry.h"
#include "cluster/shard_fsm.h"

namespace kiseki::cluster {
namespace {

TEST(RaftEntry, EveryLengthRoundTripsAsAMultipleOf8) {
  for (size_t n = 0; n < 40; ++n) {
    std::string record(n, 'r');
    for (size_t i = 0; i < n; ++i) record[i] = static_cast<char>(i * 37 + n);
    std::string entry(raft_entry_size(n), '\xff');
    encode_raft_entry(record, entry.data());
    EXPECT_EQ(entry.size() % 8, 0u);
    auto back = decode_raft_entry(entry);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(*back, record);
  }
}

TEST(RaftEntry, DamageIsAnErrorNeverAnotherRecord) {
  std::string record = "a delta record of some length";
  std::string entry(raft_entry_size(record.size()), '\0');
  encode_raft_entry(record, entry.data());
  for (size_t i = 0; i < entry.size(); ++i) {
    std::string bad = entry;
    bad[i] ^= 0x20;
    EXPECT_FALSE(decode_raft_entry(bad).is_ok()) << "byte " << i;
  }
  EXPECT_FALSE(decode_raft_entry(entry.substr(0, entry.size() - 8)).is_ok());
  EXPECT_FALSE(decode_raft_entry(entry + std::string(8, '\0')).is_ok());
  EXPECT_FALSE(decode_raft_entry("short").is_ok());
}

TEST(SnapshotManifest, RoundTripsAndRefusesGarbage) {
  SnapshotManifest m{3, 12345, 2};
  auto back = decode_manifest(encode_manifest(m));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->shard, 3u);
  EXPECT_EQ(back->index, 12345u);
  EXPECT_EQ(back->origin, 2u);
  EXPECT_FALSE(decode_manifest("x").is_ok());
  EXPECT_FALSE(decode_manifest(encode_manifest(m) + "extra").is_ok());
}

}  // namespace
}  // namespace kiseki::cluster
