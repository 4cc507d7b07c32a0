#include "common/connection_tracker.h"

#include <sys/socket.h>

namespace kiseki {

bool ConnectionTracker::add(int fd) {
  std::lock_guard lock(mu_);
  if (closing_ || fds_.size() >= max_) return false;
  fds_.insert(fd);
  open_->add(1);
  return true;
}

void ConnectionTracker::remove(int fd) {
  std::lock_guard lock(mu_);
  fds_.erase(fd);
  open_->add(-1);
  if (fds_.empty()) drained_.notify_all();
}

void ConnectionTracker::close_all() {
  std::unique_lock lock(mu_);
  closing_ = true;
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  drained_.wait(lock, [&] { return fds_.empty(); });
}

}  // namespace kiseki
