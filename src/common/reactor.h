// Where a protocol server's connections wait between bursts of work: one epoll
// thread accepts (within the limits in all and per client address), watches
// each parked connection for its next bytes or its deadline, and calls back.
// An idle or slow connection costs a socket and the protocol's small state, no
// thread: the protocol hands a connection to a thread of its pool only when
// there is work (a whole request header, a whole RPC record) and parks it again
// afterwards (ADR 0004).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/client_limits.h"
#include "common/metrics.h"
#include "common/status.h"

namespace kiseki {

struct ReactorOptions {
  std::string name;  // in logs and metrics ("s3", "nfs", …)
  size_t max_connections = 16384;  // at most what the fd limit allows, less room for files
  size_t max_connections_per_client = 1024;
};

class Reactor {
 public:
  using Clock = std::chrono::steady_clock;
  struct Callbacks {
    // A new connection (non-blocking, TCP_NODELAY, counted in the limits). The
    // callee parks it (park) or drops it (forget).
    std::function<void(int fd, uint32_t ip, uint16_t port)> accepted;
    // One refused at a limit, before it is closed (a protocol may say why).
    std::function<void(int fd)> refused;
    // A parked connection is readable (or writable, if it asked) or past its
    // deadline. The callee parks it again, hands it on, or forgets it.
    std::function<void(int fd)> ready;
    std::function<void(int fd)> expired;
  };

  // Takes the listening socket; calls back once run() has started the thread.
  static Result<std::unique_ptr<Reactor>> create(int listen_fd, const ReactorOptions& opts, Callbacks cb);
  void run();
  ~Reactor();
  // Stops accepting and calling back (returns once the thread is gone).
  void stop();

  // Waits for the connection's next bytes (or room to write), up to `deadline`.
  // Safe from any thread; one ready/expired call follows.
  void park(int fd, Clock::time_point deadline, bool want_write = false);
  // Stops watching the connection and releases its place in the limits; the
  // caller closes it. Safe from any thread.
  void forget(int fd, uint32_t ip);
  size_t open() const { return limits_.open(); }

 private:
  Reactor(int listen_fd, const ReactorOptions& opts, Callbacks cb, size_t cap);
  void loop();
  void accept_all();
  void sweep();

  int listen_fd_;
  ReactorOptions opts_;
  Callbacks cb_;
  ClientLimits limits_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  Gauge* open_gauge_;
  Counter* refused_;
  std::mutex mu_;  // guards parked_
  std::unordered_map<int, Clock::time_point> parked_;  // fd → deadline
};

}  // namespace kiseki
