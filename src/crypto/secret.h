// A fixed-size secret that is zeroed when dropped and never printed.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace kiseki::crypto {

constexpr size_t kKeySize = 32;

class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(std::span<const uint8_t, kKeySize> b) { std::copy(b.begin(), b.end(), k_.begin()); }
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey() { secure_zero(k_.data(), k_.size()); }

  const uint8_t* data() const { return k_.data(); }
  uint8_t* data() { return k_.data(); }
  static constexpr size_t size() { return kKeySize; }
  ByteSpan span() const { return {k_.data(), k_.size()}; }

  static SecretKey random();

 private:
  std::array<uint8_t, kKeySize> k_{};
};

}  // namespace kiseki::crypto
