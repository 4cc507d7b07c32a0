#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace kiseki {
namespace {

using namespace std::chrono_literals;

// Work that holds its thread until every piece of its batch has started, as a
// protocol server's work holds its thread while its connection stays busy.
struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool released = false;

  void run() {
    std::unique_lock lock(mu);
    ++started;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  }
  // How many have started once all n have, or after 5 s.
  int wait_started(int n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return started == n; });
    return started;
  }
  void release() {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
};

TEST(ThreadPool, WorkPostedWhileIdleThreadsWakeStartsAtOnce) {
  // Posts that come faster than idle threads wake each get a thread of their
  // own: none waits for a busy one to finish (a lost wakeup left a connection
  // unserved for as long as the others kept their threads busy).
  constexpr int kIdle = 2, kPosts = 8;
  for (int round = 0; round < 20; ++round) {
    ThreadPool pool(64);
    Batch warm;
    for (int i = 0; i < kIdle; ++i) pool.post([&] { warm.run(); });
    ASSERT_EQ(warm.wait_started(kIdle), kIdle);
    warm.release();
    std::this_thread::sleep_for(5ms);  // both threads back and idle
    Batch b;
    for (int i = 0; i < kPosts; ++i) pool.post([&] { b.run(); });
    int started = b.wait_started(kPosts);
    b.release();
    ASSERT_EQ(started, kPosts) << "round " << round;
  }
}

TEST(ThreadPool, GrowsToItsBoundAndRunsEverything) {
  std::atomic<int> running{0}, most{0}, ran{0};
  {
    ThreadPool pool(4);
    for (int i = 0; i < 100; ++i)
      pool.post([&] {
        int now = ++running;
        for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        --running;
        ++ran;
      });
    for (int i = 0; i < 500 && ran < 100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ran.load(), 100);
  EXPECT_LE(most.load(), 4);
  EXPECT_GE(most.load(), 2) << "work posted while threads are busy starts new ones";
}

}  // namespace
}  // namespace kiseki
