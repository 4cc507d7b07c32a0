// Damage found at start is never silent. A flipped byte in the middle of the
// metadata write-ahead log refuses the open with a message naming the log, while
// an incomplete last record (what a crash in the middle of a write leaves) is
// tolerated: RocksDB's default would replay up to the damage and drop every
// acknowledged write after it without a word. A damaged key file refuses the
// open too, instead of failing every request of its tenant.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "crash_writer_child.h"
#include "fixture.h"
#include "support/flip_byte.h"

namespace kiseki::gateway {
namespace {

namespace fs = std::filesystem;

// Runs the crash writer until it has acknowledged `acks` writes, then SIGKILLs
// it: the log holds records no flush has written to SST files yet.
void write_then_kill(const std::string& dir, int acks) {
  CrashWriter w = spawn_crash_writer({dir, "1", "100000", "sync"});
  ASSERT_GE(w.pid, 0);
  pid_t pid = w.pid;
  FILE* in = w.out;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof(line), in))
    if (std::string_view(line).starts_with("ACK") && ++n >= acks) break;
  kill(pid, SIGKILL);
  fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_GE(n, acks);
}

// The newest write-ahead log file of the metadata store.
std::string newest_wal(const std::string& dir) {
  std::string best;
  for (const auto& e : fs::directory_iterator(dir + "/meta"))
    if (e.path().extension() == ".log" && e.path().string() > best) best = e.path().string();
  return best;
}

Result<std::unique_ptr<Gateway>> open_dir(const std::string& dir) {
  GatewayOptions o;
  o.data_dir = dir;
  return Gateway::open(o);
}

TEST(WalDamage, FlippedByteInTheMiddleRefusesToOpen) {
  kiseki::testing::TempDir dir;
  write_then_kill(dir.path(), 30);
  std::string wal = newest_wal(dir.path());
  ASSERT_FALSE(wal.empty());
  uint64_t size = fs::file_size(wal);
  ASSERT_GT(size, 4096u);
  kiseki::testing::flip_byte(wal, static_cast<off_t>(size / 3));
  auto g = open_dir(dir.path());
  ASSERT_FALSE(g.is_ok()) << "a damaged log must not open as if the writes after the damage never happened";
  EXPECT_EQ(g.code(), ErrorCode::kCorruption);
  EXPECT_NE(g.status().message().find("write-ahead log"), std::string::npos) << g.status().message();
  EXPECT_NE(g.status().message().find(fs::path(wal).filename().string()), std::string::npos)
      << "the message names the log: " << g.status().message();
}

TEST(WalDamage, TornLastRecordIsTolerated) {
  kiseki::testing::TempDir dir;
  write_then_kill(dir.path(), 20);
  std::string wal = newest_wal(dir.path());
  ASSERT_FALSE(wal.empty());
  uint64_t size = fs::file_size(wal);
  fs::resize_file(wal, size - 7);  // the last record cut short, as a crash mid-write leaves it
  auto g = open_dir(dir.path());
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  auto t = (*g)->find_tenant("crash");
  ASSERT_TRUE(t.is_ok());
  auto ns = (*g)->find_namespace(t->id, "b");
  ASSERT_TRUE(ns.is_ok());
  auto refs = (*g)->check_references();
  ASSERT_TRUE(refs.is_ok());
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
}

TEST(KeyDamage, DamagedTenantOrMasterKeyRefusesToOpen) {
  for (bool master : {false, true}) {
    kiseki::testing::TempDir dir;
    TenantId t = 0;
    {
      auto g = open_dir(dir.path());
      ASSERT_TRUE(g.is_ok());
      t = *(*g)->create_tenant("keyed");
      NsRef ns = *(*g)->create_namespace(t, "keyed-ns");
      ASSERT_TRUE((*g)->put_object(ns, "k", source_from(as_bytes(std::string("v"))), {}).is_ok());
    }
    std::string file = master ? "master" : "tenant-" + std::to_string(t);
    std::string path = dir.path() + "/keys/" + file;
    kiseki::testing::flip_byte(path, static_cast<off_t>(fs::file_size(path) - 10));
    auto g = open_dir(dir.path());
    ASSERT_FALSE(g.is_ok()) << file;
    EXPECT_EQ(g.code(), ErrorCode::kCorruption) << file;
    EXPECT_NE(g.status().message().find("keys/tenant-"), std::string::npos) << g.status().message();
  }
}

TEST(SegmentDamage, ReferencedChunksWithoutBytesAreReportedNotForgotten) {
  kiseki::testing::TempDir dir;
  std::string early = kiseki::testing::random_bytes(300000, 1), late = kiseki::testing::random_bytes(300000, 2);
  {
    auto g = open_dir(dir.path());
    ASSERT_TRUE(g.is_ok());
    TenantId t = *(*g)->create_tenant("seg");
    NsRef ns = *(*g)->create_namespace(t, "seg-ns");
    ASSERT_TRUE((*g)->put_object(ns, "early", source_from(as_bytes(early)), {}).is_ok());
    ASSERT_TRUE((*g)->put_object(ns, "late", source_from(as_bytes(late)), {}).is_ok());
    EXPECT_TRUE((*g)->damage_at_open().empty());
  }
  std::string seg;
  for (const auto& e : fs::directory_iterator(dir.path() + "/chunks")) seg = e.path().string();
  ASSERT_FALSE(seg.empty());
  fs::resize_file(seg, fs::file_size(seg) * 3 / 5);  // most of the second object's chunks are gone
  for (int round = 0; round < 2; ++round) {      // and stay reported after another restart
    auto g = open_dir(dir.path());
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    std::string damage = (*g)->damage_at_open();
    EXPECT_NE(damage.find("referenced chunks have no bytes"), std::string::npos) << damage;
    EXPECT_NE(damage.find(fs::path(seg).filename().string()), std::string::npos) << damage;
    auto t = (*g)->find_tenant("seg");
    NsRef ns = (*g)->find_namespace(t->id, "seg-ns")->ref;
    auto r = (*g)->get_object(ns, "early", {}, nullptr);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(std::string(as_string_view(*r)), early);
    EXPECT_FALSE((*g)->get_object(ns, "late", {}, nullptr).is_ok()) << "an error, never other bytes";
    EXPECT_FALSE((*g)->scrub().problems.empty());
    EXPECT_FALSE((*g)->damage_at_open().empty()) << "a scrub with problems keeps it";
    if (round == 1) {
      // The operator gives the damaged object up: a clean scrub ends the report.
      ASSERT_TRUE((*g)->delete_object(ns, "late").is_ok());
      EXPECT_TRUE((*g)->scrub().problems.empty());
      EXPECT_TRUE((*g)->damage_at_open().empty());
    }
  }
  auto g = open_dir(dir.path());
  ASSERT_TRUE(g.is_ok());
  EXPECT_TRUE((*g)->damage_at_open().empty()) << "and it stays ended";
}

}  // namespace
}  // namespace kiseki::gateway
