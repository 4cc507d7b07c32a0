#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/chunk_cipher.h"
#include "crypto/nonce.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {
namespace {

std::string nonce() {
  std::string n(kGcmNonceSize, '\0');
  next_gcm_nonce({reinterpret_cast<uint8_t*>(n.data()), n.size()});
  return n;
}

uint64_t counter_of(const std::string& n) { return get_be64(reinterpret_cast<const uint8_t*>(n.data()) + 4); }

}  // namespace

TEST(GcmNonce, NoneRepeatsWithinOrAcrossThreads) {
  constexpr int kThreads = 8, kEach = 20000;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) got[t].push_back(nonce());
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  std::set<std::string> prefixes;
  for (const auto& run : got) {
    for (size_t i = 1; i < run.size(); ++i) {
      // A thread counts up from its own random start.
      ASSERT_EQ(run[i].substr(0, 4), run[0].substr(0, 4));
      ASSERT_EQ(counter_of(run[i]), counter_of(run[i - 1]) + 1);
    }
    prefixes.insert(run[0].substr(0, 4));
    all.insert(run.begin(), run.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads} * kEach);
  EXPECT_GT(prefixes.size(), 1u);  // the starts are drawn, not shared
}

TEST(GcmNonce, AForkedChildDoesNotContinueItsParentsRun) {
  std::string before = nonce();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string n = nonce();
    _exit(write(fds[1], n.data(), n.size()) == static_cast<ssize_t>(n.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string child(kGcmNonceSize, '\0');
  ASSERT_EQ(read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The parent goes on counting from `before`; the child started afresh.
  std::string next = nonce();
  EXPECT_EQ(counter_of(next), counter_of(before) + 1);
  EXPECT_NE(child, next);
  bool in_parents_run = child.substr(0, 4) == before.substr(0, 4) &&
                        counter_of(child) - counter_of(before) < (uint64_t{1} << 32);
  EXPECT_FALSE(in_parents_run);
}

TEST(GcmNonce, TenantSealsOfOneMessageDifferAndOpen) {
  SecretKey kek = SecretKey::random();
  std::string a, b, opened;
  ASSERT_TRUE(tenant_seal(kek, as_bytes("aad"), as_bytes("layout"), &a).is_ok());
  ASSERT_TRUE(tenant_seal(kek, as_bytes("aad"), as_bytes("layout"), &b).is_ok());
  EXPECT_NE(a.substr(0, kGcmNonceSize), b.substr(0, kGcmNonceSize));
  EXPECT_NE(a, b);
  ASSERT_TRUE(tenant_open(kek, as_bytes("aad"), as_bytes(b), &opened).is_ok());
  EXPECT_EQ(opened, "layout");
  EXPECT_FALSE(tenant_open(kek, as_bytes("other"), as_bytes(b), &opened).is_ok());
}

}  // namespace kiseki::crypto
