// Work that concurrent callers may share: each caller's answer comes from a
// round of `work` that began after it asked, so one round (an fsync, a quorum
// check) answers every caller that arrived while the one before it ran.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace kiseki {

template <typename T>
class SharedRound {
 public:
  explicit SharedRound(T initial) : result_(std::move(initial)) {}

  T run(const std::function<T()>& work) {
    std::unique_lock lock(mu_);
    uint64_t mine = ++asked_;
    while (done_ < mine) {
      if (running_) {
        cv_.wait(lock);
        continue;
      }
      running_ = true;
      uint64_t covers = asked_;
      lock.unlock();
      T r = work();
      lock.lock();
      running_ = false;
      result_ = std::move(r);
      done_ = covers;
      cv_.notify_all();
    }
    return result_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  uint64_t asked_ = 0, done_ = 0;
  T result_;
};

}  // namespace kiseki
