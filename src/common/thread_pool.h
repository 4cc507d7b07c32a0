// A pool of threads that grows on demand up to a bound: work posted while every
// thread is busy starts a new one, or waits for one past the bound. For the
// protocol servers, whose work blocks (the Gateway, the disk, a slow client).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiseki {

class ThreadPool {
 public:
  explicit ThreadPool(size_t max_threads) : max_(max_threads) {}
  ~ThreadPool() { stop(); }

  void post(std::function<void()> work) {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(work));
    // An idle thread counts until it wakes and takes work: posts that come
    // faster than idle threads wake must not all count on the same one. Work
    // waits only past the bound.
    if (queue_.size() > idle_ && threads_.size() < max_) threads_.emplace_back([this] { run(); });
    else cv_.notify_one();
  }
  // Lets running work finish, drops what waits, joins the threads.
  void stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      queue_.clear();
      threads.swap(threads_);
      cv_.notify_all();
    }
    for (auto& t : threads) t.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (stopping_) return;
      auto work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work();
      lock.lock();
    }
  }

  const size_t max_;
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace kiseki
