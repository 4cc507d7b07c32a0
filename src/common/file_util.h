// Small POSIX helpers with Status errors: whole-file read, atomic durable write,
// directory fsync.
#pragma once

#include <cstdint>
#include <string>

#include "common/env.h"
#include "common/status.h"

namespace kiseki {

Result<std::string> read_file(const std::string& path, const Env& env = Env::posix());
// Writes to path.tmp, fsyncs it, renames over path and fsyncs the directory.
Status write_file_atomic(const std::string& path, std::string_view data, int mode = 0600,
                         const Env& env = Env::posix());
Status fsync_dir(const std::string& dir, const Env& env = Env::posix());
Status make_dirs(const std::string& dir);
bool file_exists(const std::string& path);
// Copies the first `max_bytes` of `from` (all of it by default) to a new file
// `to` (mode `mode`) and fsyncs it; `to` must not exist. Returns the bytes copied.
Result<uint64_t> copy_file(const std::string& from, const std::string& to, uint64_t max_bytes = UINT64_MAX,
                           int mode = 0600);

}  // namespace kiseki
