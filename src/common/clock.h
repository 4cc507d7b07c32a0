// Time comes through an interface so tests can control it.
#pragma once

#include <chrono>
#include <cstdint>

namespace kiseki {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual int64_t now_ns() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static const SystemClock& instance() {
    static SystemClock c;
    return c;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t t = 1'700'000'000'000'000'000) : t_(t) {}
  int64_t now_ns() const override { return t_; }
  void advance_ns(int64_t d) { t_ += d; }

 private:
  int64_t t_;
};

}  // namespace kiseki
