// One server per data directory: an exclusive lock (flock) on DATA/lock, which
// also holds the PID of the server that has it, for the message a second
// server gets. The kernel drops the lock when the process ends, however.
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::server {

class DataLock {
 public:
  // kUnavailable, naming the holder's PID, if another process has it.
  static Result<DataLock> acquire(const std::string& data_dir);
  DataLock(DataLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DataLock& operator=(DataLock&&) = delete;
  ~DataLock();

 private:
  explicit DataLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kiseki::server
