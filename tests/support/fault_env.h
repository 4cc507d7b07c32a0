// An Env that fails file operations on demand: reads, writes or syncs of the
// files whose path contains a pattern, for as long as it is armed.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "common/env.h"

namespace kiseki::testing {

class FaultEnv final : public Env {
 public:
  void arm(FileOp op, std::string pattern) {
    std::lock_guard lock(mu_);
    op_ = op;
    pattern_ = std::move(pattern);
    armed_ = true;
  }
  void disarm() { armed_ = false; }
  uint64_t faults() const { return faults_; }

  Status check(FileOp op, std::string_view path) const override {
    if (!armed_) return Status::ok();
    std::lock_guard lock(mu_);
    if (op != op_ || path.find(pattern_) == std::string_view::npos) return Status::ok();
    ++faults_;
    return io_error("injected fault on " + std::string(path));
  }

 private:
  mutable std::mutex mu_;  // guards op_, pattern_
  std::atomic<bool> armed_{false};
  FileOp op_ = FileOp::kRead;
  std::string pattern_;
  mutable std::atomic<uint64_t> faults_{0};
};

}  // namespace kiseki::testing
