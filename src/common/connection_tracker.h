// The open connections of a protocol server: a cap, a gauge, and a clean stop
// that shuts every connection down and waits until each one's thread is done.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <set>

#include "common/metrics.h"

namespace kiseki {

class ConnectionTracker {
 public:
  ConnectionTracker(size_t max_connections, Gauge* open) : max_(max_connections), open_(open) {}
  // Registers a new connection; false when closing or at the cap.
  bool add(int fd);
  // The connection's thread is done with it. The last touch of the tracker for
  // that connection: close_all() may return, and the owner go, right after.
  void remove(int fd);
  // Refuses new connections, shuts the open ones down, waits until all are removed.
  void close_all();

 private:
  size_t max_;
  Gauge* open_;
  std::mutex mu_;  // guards fds_ and closing_
  std::condition_variable drained_;
  std::set<int> fds_;
  bool closing_ = false;
};

}  // namespace kiseki
