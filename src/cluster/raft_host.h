// The event loop that hosts a node's Raft groups: one libuv loop on one
// thread, shared by every shard's group (libraft takes no locks: all its calls
// and callbacks run here), and the transport hub they all send through
// (raft_transport.h). Other threads hand work to the loop with post/run.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

extern "C" {
#include <uv.h>
}

#include "cluster/raft_transport.h"
#include "common/status.h"

namespace kiseki::cluster {

class RaftHost {
 public:
  // Binds the Raft port now (an address in use is an error at start).
  static Result<std::unique_ptr<RaftHost>> start(const RaftTransportOptions& transport);
  // Every group on the loop must be closed first.
  ~RaftHost();

  uv_loop_t* loop() { return &loop_; }
  RaftTransportHub* hub() { return hub_.get(); }
  // Runs `fn` on the loop thread.
  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread and waits for it (never from the loop thread).
  void run(std::function<void()> fn);
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  RaftHost() = default;
  void drain();

  uv_loop_t loop_{};
  uv_async_t wake_{};
  std::unique_ptr<RaftTransportHub> hub_;
  std::mutex mu_;  // guards tasks_
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

}  // namespace kiseki::cluster
