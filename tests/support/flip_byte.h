// Real corruption for tests: XORs one byte of a file on disk with `mask`.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace kiseki::testing {

inline void flip_byte(const std::string& path, off_t at, uint8_t mask = 0x5a) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  uint8_t b;
  ASSERT_EQ(::pread(fd, &b, 1, at), 1) << path;
  b ^= mask;
  ASSERT_EQ(::pwrite(fd, &b, 1, at), 1) << path;
  ::close(fd);
}

}  // namespace kiseki::testing
