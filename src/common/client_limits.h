// Connection limits of a protocol server: in all and per client address, so
// that one client (or one flood) cannot take every connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace kiseki {

class ClientLimits {
 public:
  ClientLimits(size_t max_total, size_t max_per_client) : max_total_(max_total), max_per_client_(max_per_client) {}
  // Counts a new connection from `ip` (IPv4, host order); false past a limit.
  bool admit(uint32_t ip) {
    std::lock_guard lock(mu_);
    if (total_ >= max_total_) return false;
    size_t& n = per_client_[ip];
    if (n >= max_per_client_) return false;
    ++n;
    ++total_;
    return true;
  }
  void release(uint32_t ip) {
    std::lock_guard lock(mu_);
    auto it = per_client_.find(ip);
    if (it == per_client_.end()) return;
    if (--it->second == 0) per_client_.erase(it);
    --total_;
  }
  size_t open() const {
    std::lock_guard lock(mu_);
    return total_;
  }

 private:
  const size_t max_total_, max_per_client_;
  mutable std::mutex mu_;  // guards the counts
  size_t total_ = 0;
  std::unordered_map<uint32_t, size_t> per_client_;
};

}  // namespace kiseki
