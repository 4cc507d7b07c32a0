// What a cached block is: block `index` (of kBlockSize bytes) of one file, as of
// one version of that file. A block is served only for the version it was
// read at, so a file changed anywhere (its mtime or size differ) is read again.
#pragma once

#include <compare>
#include <cstdint>

#include "common/ids.h"

namespace kiseki::client {

inline constexpr uint64_t kBlockSize = 1 << 20;  // the native protocol's largest read

struct BlockKey {
  NamespaceId ns = 0;
  InodeId ino = 0;
  uint64_t index = 0;
  auto operator<=>(const BlockKey&) const = default;
};

struct FileVersion {
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  bool operator==(const FileVersion&) const = default;
};

}  // namespace kiseki::client
