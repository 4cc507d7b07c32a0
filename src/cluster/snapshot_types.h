// One file of a checkpoint shipped between nodes (snapshot_transfer.h).
#pragma once

#include <cstdint>
#include <string>

namespace kiseki::cluster {

struct CheckpointFile {
  std::string name;
  uint64_t size = 0;
};

}  // namespace kiseki::cluster
