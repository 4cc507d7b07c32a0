// A directory under $TMPDIR removed when the test ends.
#pragma once

#include <string>

namespace kiseki::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes.
std::string random_bytes(size_t n, uint64_t seed);

}  // namespace kiseki::testing
