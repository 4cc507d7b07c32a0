#include "cluster/raft_host.h"

#include <condition_variable>

namespace kiseki::cluster {

Result<std::unique_ptr<RaftHost>> RaftHost::start(const RaftTransportOptions& transport) {
  std::unique_ptr<RaftHost> h(new RaftHost());
  if (int rv = uv_loop_init(&h->loop_); rv != 0) return io_error(std::string("uv loop: ") + uv_strerror(rv));
  h->wake_.data = h.get();
  uv_async_init(&h->loop_, &h->wake_, [](uv_async_t* a) { static_cast<RaftHost*>(a->data)->drain(); });
  h->hub_ = std::make_unique<RaftTransportHub>(&h->loop_, transport);
  if (Status st = h->hub_->start(); !st) {
    // Nothing runs yet: close what was opened on this thread.
    h->hub_->close([] {});
    uv_close(reinterpret_cast<uv_handle_t*>(&h->wake_), nullptr);
    uv_run(&h->loop_, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop_);
    h->hub_.reset();
    return st;
  }
  h->thread_ = std::thread([p = h.get()] { uv_run(&p->loop_, UV_RUN_DEFAULT); });
  return h;
}

RaftHost::~RaftHost() {
  if (thread_.joinable()) {
    post([this] {
      hub_->close([this] { uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr); });
    });
    thread_.join();
    uv_loop_close(&loop_);
  }
}

void RaftHost::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(fn));
  }
  uv_async_send(&wake_);
}

void RaftHost::run(std::function<void()> fn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post([&] {
    fn();
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

void RaftHost::drain() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

}  // namespace kiseki::cluster
