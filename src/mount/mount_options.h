// What `kiseki mount -o …` may say (docs/mount.md).
#pragma once

#include <optional>
#include <string>

#include "client/cache/block_cache.h"
#include "common/status.h"

namespace kiseki::mount {

struct MountOptions {
  bool allow_other = false;  // other users may use the mount (needs user_allow_other for non-root)
  bool read_only = false;    // ro
  std::optional<uint32_t> uid, gid;  // every file shown as owned by these
  double attr_timeout_s = 1.0;   // how long the kernel trusts attributes (and names)
  double entry_timeout_s = 1.0;
  // writeback: the kernel gathers writes in its page cache and owns the size
  // of a file it has cached, so a size changed over S3 or NFS is not seen;
  // for files that only this mount writes (docs/mount.md). Off by default.
  bool writeback_cache = false;
  unsigned max_threads = 32;
  bool debug = false;            // every FUSE request logged (-o debug)
  // cache=organic|pinned|bypass, cache_dir=DIR (L2), cache_size= (L2), cache_mem= (L1)
  client::CacheOptions cache;
};

// Parses "allow_other,ro,uid=1000,…" (several -o are joined with commas).
Result<MountOptions> parse_mount_options(std::string_view text);

}  // namespace kiseki::mount
