// Kill points: a child process runs every path that has a named kill point
// (writes that roll segments, a multipart upload, deletes and a compaction, a
// shred and its purge) and dies at one of them; the store is reopened and
// every acknowledged step must hold, nothing half done may show, and the store
// must be consistent and able to finish the interrupted work. Kill points are
// compiled into debug builds only (common/kill_point.h), where this test runs.
#ifdef KISEKI_KILL_POINTS
#include <signal.h>
#include <sys/wait.h>

#include <set>
#include <sstream>

#include "crash_writer_child.h"
#include "fixture.h"
#include "support/payload.h"

namespace kiseki::gateway {

using kiseki::testing::payload;
namespace {

// Every point in the source (docs/durability.md lists them).
const char* const kPoints[] = {
    "segment.after_append",  "segment.after_sync",           "segment.roll.after_sync",
    "segment.after_create",  "write.before_commit",          "write.after_commit",
    "log.after_wal_write",   "log.after_wal_sync",           "multipart.after_part",
    "multipart.complete.before_commit", "multipart.complete.after_commit", "compact.after_copy",
    "compact.after_location", "compact.before_remove",       "compact.after_remove",
    "shred.after_record",    "shred.after_marker",           "shred.after_key_gone",
    "purge.before_erase",    "purge.after_erase",
    // Later passes of the busiest points, deeper into the workload.
    "segment.after_append:9", "log.after_wal_sync:12",      "write.after_commit:14",
};

struct Acked {
  std::map<std::string, std::pair<uint64_t, size_t>> objects;  // key → (seed, size)
  std::set<std::string> deleted;
  bool shred = false, purge = false, compact = false;
};

class KillPointTest : public ::testing::TestWithParam<const char*> {};

TEST_P(KillPointTest, DiesThereAndLosesNothingAcknowledged) {
  kiseki::testing::TempDir dir;
  CrashWriter w = spawn_crash_writer({dir.path(), "killpoints"}, {{"KISEKI_KILL_POINT", GetParam()}});
  ASSERT_GE(w.pid, 0);
  Acked acked;
  std::string killed_at;
  char line[512];
  while (fgets(line, sizeof(line), w.out)) {
    std::istringstream ss(line);
    std::string tag, what;
    ss >> tag >> what;
    if (tag == "KILLED") killed_at = what;
    if (tag != "ACK") continue;
    if (what == "obj") {
      std::string key;
      uint64_t seed;
      size_t size;
      ss >> key >> seed >> size;
      acked.objects[key] = {seed, size};
    } else if (what == "del") {
      std::string key;
      ss >> key;
      acked.objects.erase(key);
      acked.deleted.insert(key);
    } else if (what == "shred") {
      acked.shred = true;
    } else if (what == "purge") {
      acked.purge = true;
    } else if (what == "compact") {
      acked.compact = true;
    }
  }
  fclose(w.out);
  int status = 0;
  waitpid(w.pid, &status, 0);
  std::string want = GetParam();
  want = want.substr(0, want.find(':'));
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << GetParam() << ": the workload never reached the kill point (exit status " << status << ")";
  ASSERT_EQ(killed_at, want);

  GatewayOptions o;
  o.data_dir = dir.path();
  o.segment_bytes = 256 << 10;
  auto g = Gateway::open(o);
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  Gateway& gw = **g;
  EXPECT_EQ(gw.damage_at_open(), "");
  auto t = gw.find_tenant("crash");
  if (t) {
    auto b = gw.find_namespace(t->id, "b");
    ASSERT_TRUE(b.is_ok());
    for (const auto& [key, v] : acked.objects) {
      if (key == "doomed") continue;
      auto r = gw.get_object(b->ref, key, {}, nullptr);
      ASSERT_TRUE(r.is_ok()) << "lost acknowledged " << key << ": " << r.status().to_string();
      EXPECT_EQ(as_string_view(*r), payload(v.first, v.second)) << key;
    }
    for (const auto& key : acked.deleted)
      EXPECT_EQ(gw.head_object(b->ref, key).status().code(), ErrorCode::kNotFound) << key;
  } else {
    EXPECT_TRUE(acked.objects.empty());
  }
  // The shredded tenant: once the shred was acknowledged its data is gone for
  // good; before that it is either whole or gone, never half.
  auto gone = gw.find_tenant("gone");
  if (acked.shred) {
    EXPECT_TRUE(!gone || gone->shredded);
  } else if (gone && !gone->shredded && acked.objects.count("doomed")) {
    auto gns = gw.find_namespace(gone->id, "g");
    ASSERT_TRUE(gns.is_ok());
    auto r = gw.get_object(gns->ref, "doomed", {}, nullptr);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(as_string_view(*r), payload(99, 50000));
  }
  auto check = [&](const char* when) {
    auto refs = gw.check_references();
    ASSERT_TRUE(refs.is_ok()) << when << ": " << refs.status().to_string();
    EXPECT_TRUE(refs->problems.empty()) << when << ": " << refs->problems.front();
    auto scrub = gw.scrub();
    EXPECT_TRUE(scrub.problems.empty()) << when << ": " << scrub.problems.front();
  };
  check("after the restart");
  // The interrupted work finishes.
  ASSERT_TRUE(gw.purge_shredded().is_ok());
  ASSERT_TRUE(gw.compact(0.9).is_ok());
  check("after purge and compaction");
}

INSTANTIATE_TEST_SUITE_P(Points, KillPointTest, ::testing::ValuesIn(kPoints),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace kiseki::gateway
#endif  // KISEKI_KILL_POINTS
