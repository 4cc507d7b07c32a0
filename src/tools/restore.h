// kiseki restore: a backup written by the server (POST /api/v1/backup) copied
// back into a new data directory, every file checked against the manifest.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace kiseki::tools {

struct RestoreReport {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// `data_dir` must not exist or be empty; no server may run on it meanwhile.
Result<RestoreReport> restore_backup(const std::string& backup_dir, const std::string& data_dir);

}  // namespace kiseki::tools
