// Crash safety: a child process writes and is killed with SIGKILL at several
// points; after each kill the store is reopened and every write the child saw
// acknowledged must be there byte for byte, with no corrupt store. A process
// crash loses nothing acknowledged in any durability mode (docs/durability.md):
// the page cache outlives the process.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <sstream>

#include "crash_writer_child.h"
#include "fixture.h"
#include "support/payload.h"

namespace kiseki::gateway {

using kiseki::testing::payload;

struct FileWrite {
  uint64_t seq, off;
  size_t size;
};

static void apply_write(std::string* model, const FileWrite& w) {
  if (model->size() < w.off + w.size) model->resize(w.off + w.size, '\0');
  model->replace(w.off, w.size, payload(w.seq, w.size));
}

class CrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashTest, KillNineLosesNothingAcknowledged) {
  kiseki::testing::TempDir dir;
  std::map<std::string, std::pair<uint64_t, size_t>> objects;  // key → (seq, size)
  std::string file_model;
  std::mt19937 rng(2024);
  uint64_t seq = 1;
  // Kill after different numbers of acknowledgements and at random delays, so the
  // kill lands in chunk appends, group commits, segment rolls and idle time.
  const int kill_after[] = {0, 1, 3, 7, 15, 30, 2, 50};
  for (int round = 0; round < 8; ++round) {
    CrashWriter w = spawn_crash_writer({dir.path(), std::to_string(seq), "100000", GetParam()});
    ASSERT_GE(w.pid, 0);
    pid_t pid = w.pid;
    FILE* in = w.out;
    char line[512];
    int acks = 0;
    std::optional<FileWrite> inflight;
    bool killed = false;
    while (fgets(line, sizeof(line), in)) {
      std::istringstream ss(line);
      std::string tag, kind;
      ss >> tag;
      if (tag == "READY") {
        if (kill_after[round] == 0) {
          usleep(rng() % 3000);
          kill(pid, SIGKILL);
          killed = true;
        }
        continue;
      }
      ss >> kind;
      uint64_t s;
      ss >> s;
      seq = std::max(seq, s + 1);
      if (kind == "file") {
        FileWrite w{s, 0, 0};
        ss >> w.off >> w.size;
        if (tag == "BEGIN") inflight = w;
        else { apply_write(&file_model, w); inflight.reset(); }
      } else if (tag == "ACK") {
        std::string key;
        size_t size;
        ss >> key >> size;
        objects[key] = {s, size};
      }
      if (tag == "ACK" && ++acks >= kill_after[round] && !killed) {
        usleep(rng() % 2000);
        kill(pid, SIGKILL);
        killed = true;
      }
    }
    fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": child exited by itself";

    GatewayOptions o;
    o.data_dir = dir.path();
    auto g = Gateway::open(o);
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    auto& gw = **g;
    auto t = gw.find_tenant("crash");
    if (!t) {
      EXPECT_TRUE(objects.empty());
      continue;
    }
    auto nsinfo = gw.find_namespace(t->id, "b");
    if (!nsinfo) continue;
    NsRef ns = nsinfo->ref;
    for (const auto& [key, v] : objects) {
      auto r = gw.get_object(ns, key, {}, nullptr);
      ASSERT_TRUE(r.is_ok()) << "round " << round << " lost acknowledged " << key << ": " << r.status().to_string();
      ASSERT_EQ(as_string_view(*r), payload(v.first, v.second)) << key;
    }
    auto f = gw.lookup(ns, ns::kRootInode, "file");
    if (f) {
      auto data = gw.read(ns, f->ino, 0, 1ull << 30);
      ASSERT_TRUE(data.is_ok());
      std::string got(as_string_view(*data));
      // The write in flight at the kill is atomic: all there or not at all.
      std::string with = file_model;
      if (inflight) apply_write(&with, *inflight);
      bool match = got == file_model || (inflight && got == with);
      ASSERT_TRUE(match) << "round " << round << ": file content is neither before nor after the in-flight write";
      if (inflight && got == with) file_model = with;
    }
    auto report = gw.scrub();
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  }
  EXPECT_GT(objects.size(), 50u);
}

INSTANTIATE_TEST_SUITE_P(Durability, CrashTest, ::testing::Values("sync", "group", "none"));

}  // namespace kiseki::gateway
