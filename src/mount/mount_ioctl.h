// The ioctls a kiseki mount answers (docs/mount.md): staging a range of a file
// into the mount's disk cache (pinned), the cache's counters and the FUSE
// requests answered. Plain C
// structs so that any program can call them.
#pragma once

#include <linux/ioctl.h>
#include <stdint.h>

// On a file open for reading: in, the range; out, the bytes of it now pinned
// on disk and how many of those were fetched from the server for this call.
struct kiseki_stage_range {
  uint64_t offset;
  uint64_t length;
  uint64_t staged;
  uint64_t fetched;
};
#define KISEKI_IOC_STAGE _IOWR('k', 1, struct kiseki_stage_range)

// On any file or directory of the mount.
struct kiseki_cache_stats {
  uint64_t l1_hits, l2_hits, misses, corrupt;
  uint64_t l1_bytes, l2_bytes, pinned_bytes, l2_capacity;
};
#define KISEKI_IOC_CACHE_STATS _IOR('k', 2, struct kiseki_cache_stats)

// On any file or directory: the FUSE requests this mount has answered, by
// kind, and the bytes of its reads and writes.
struct kiseki_request_stats {
  uint64_t lookup, getattr, setattr, open, create, read, write, flush, release, fsync, readdir, other;
  uint64_t read_bytes, write_bytes;
};
#define KISEKI_IOC_REQUEST_STATS _IOR('k', 3, struct kiseki_request_stats)
