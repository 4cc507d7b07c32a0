// Test data: `n` bytes determined by `seed`, the same in a crash-test child and
// in the test that checks what the child acknowledged.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace kiseki::testing {

inline std::string payload(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace kiseki::testing
