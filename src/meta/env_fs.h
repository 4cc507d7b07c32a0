// RocksDB's file system built from a Kiseki Env: every file RocksDB reads,
// writes or syncs asks Env::check first, so a test Env injects faults into the
// metadata store exactly as into the segment files.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <memory>

#include "common/env.h"

namespace kiseki::meta {

std::shared_ptr<rocksdb::FileSystem> make_env_file_system(const Env& env);

}  // namespace kiseki::meta
