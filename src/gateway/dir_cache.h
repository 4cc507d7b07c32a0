// Directory listings with their entries' attributes (READDIRPLUS and its kin),
// kept while no metadata store of this process has taken a write since they
// were read (meta::Store::generation(), as gateway/object_cache.h). A listing
// is kept as runs: the entries that follow a cookie, read in one batch larger
// than a reply, chained by their last cookie. A client that lists the same
// big directory again and again (a data set's file list, read by every worker
// of a job) then costs the store nothing while nothing changes; any write, of
// any key, makes every run stale, so what is served is exactly what the store
// holds.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "gateway/types.h"

namespace kiseki::gateway {

class DirCache {
 public:
  DirCache();
  // The entries of `dir` after `cookie` (0: from the start), at most `max`,
  // into `out`, if kept runs at the present generation hold them all: `max`
  // of them, or fewer up to the directory's end.
  bool get(NsRef ns, InodeId dir, uint64_t cookie, size_t max, std::vector<DirEntryPlus>* out) const;
  // Keeps `entries`, every entry of `dir` after `cookie` up to its end
  // (`to_end`) or up to the last of them, read from the stores at generation
  // `gen` (read before the reading began). Runs of an older generation go.
  void put(NsRef ns, InodeId dir, uint64_t cookie, uint64_t gen, const std::vector<DirEntryPlus>& entries,
           bool to_end);
  // No metadata store has taken a write since the last put.
  bool current() const;
  // Drops every run (a crypto-shred: no name outlives its tenant's key).
  void clear();
  // Entries held, in every run.
  size_t entries() const;

  // Entries kept at most, in all: about 2 MiB of names and attributes per
  // 10 000. A bound, not an order of eviction: a put that would pass it starts
  // again from empty.
  static constexpr size_t kMaxEntries = 128 * 1024;

 private:
  struct Run {
    std::vector<DirEntryPlus> entries;  // by cookie, ascending
    bool to_end = false;
  };
  using Listing = std::map<uint64_t, Run>;  // by the cookie each run follows
  static std::string key_of(NsRef ns, InodeId dir);

  mutable std::mutex mu_;  // guards the members below
  uint64_t gen_ = 0;       // of every run held
  std::unordered_map<std::string, Listing> listings_;
  size_t entries_ = 0;
  Counter* hits_;
  Counter* misses_;
};

}  // namespace kiseki::gateway
