// An Env that simulates power loss for everything under one directory: it
// remembers, per file, how many bytes the last fsync/fdatasync made durable and,
// per directory, which entries the last directory fsync made durable; on a power
// cut it drops the rest (files truncated to their durable size, new entries
// removed, replaced or removed entries brought back), optionally tearing the
// last write (a random part of it kept).
//
// The power goes at a chosen operation: from then on nothing the process does
// reaches the disk (its file operations still succeed, as they would until the
// machine stops, but no sync counts and removed entries come back), and no
// acknowledgement after it counts; the test closes what it opened and calls
// apply_power_cut() before reopening.
//
// Files are modelled as append-only (what the segment store, the key files and
// RocksDB write): an overwrite in place of synced bytes is not undone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/env.h"

namespace kiseki::testing {

class PowerCutEnv final : public Env {
 public:
  explicit PowerCutEnv(std::string root);
  ~PowerCutEnv() override;

  // Starts remembering: what is under the root now is durable. The power goes
  // at the `cut_at`-th file operation from now (never when 0).
  void arm(uint64_t cut_at = 0);
  // The power goes now.
  void cut();
  bool is_cut() const;
  // File operations checked since arm().
  uint64_t ops() const;
  // The operation count at the last sync of a file whose path `match`es (0 if none).
  uint64_t last_sync(const std::function<bool(const std::string&)>& match) const;

  struct Report {
    uint64_t files_truncated = 0, bytes_dropped = 0, entries_removed = 0, entries_restored = 0;
    uint64_t torn_bytes_kept = 0;
  };
  // Once nothing uses the files any more: drops what was not durable and
  // disarms. `tear`: keeps a random part of the last write when it directly
  // follows what its file made durable (a torn write).
  Report apply_power_cut(uint64_t seed, bool tear);

  Status check(FileOp op, std::string_view path) const override;
  Status check_rename(std::string_view from, std::string_view to) const override;

 private:
  struct Saved {
    std::string path, copy;
    uint64_t synced = 0;
  };
  bool powered_locked() const;  // counts an operation; false from the cut on
  void save_locked(const std::string& path) const;
  void snapshot_dir_locked(const std::string& dir) const;

  std::string root_, save_dir_;
  mutable std::mutex mu_;  // guards everything below
  bool armed_ = false;
  mutable bool cut_ = false;
  uint64_t cut_at_ = 0;
  mutable uint64_t ops_ = 0;
  mutable uint64_t saves_ = 0;
  mutable std::map<std::string, uint64_t> synced_;                // file → bytes durable
  mutable std::map<std::string, std::set<std::string>> entries_;  // directory → names durable
  mutable std::vector<Saved> saved_;  // entries replaced or removed since their directory's last sync
  mutable std::map<std::string, uint64_t> sync_ops_;  // file → operation count at its last sync
  mutable std::string last_written_;
  mutable uint64_t last_write_at_ = 0;  // where the last write began
};

}  // namespace kiseki::testing
