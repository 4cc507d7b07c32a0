// An Env that simulates power loss for everything under one directory, Kiseki's
// files and RocksDB's (power_cut_model.h says what a cut keeps).
//
// The power goes at a chosen file operation: from then on nothing the process
// does reaches the disk (its file operations still succeed, as they would
// until the machine stops, but no sync counts and removed entries come back),
// and no acknowledgement after it counts; the test closes what it opened and
// calls apply_power_cut() before reopening.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/env.h"
#include "support/power_cut_model.h"

namespace kiseki::testing {

class PowerCutEnv final : public Env {
 public:
  explicit PowerCutEnv(const std::string& root);

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
  // Once nothing uses the files any more: drops what was not durable and
  // disarms. `tear`: keeps a random part of the last write when it directly
  // follows what its file made durable (a torn write).
  PowerCutModel::Report apply_power_cut(uint64_t seed, bool tear);

  Status check(FileOp op, std::string_view path) const override;
  Status check_rename(std::string_view from, std::string_view to) const override;

 private:
  bool powered_locked() const;  // counts an operation; false from the cut on

  mutable std::mutex mu_;  // guards everything below
  mutable PowerCutModel model_;
  bool armed_ = false;
  mutable bool cut_ = false;
  uint64_t cut_at_ = 0;
  mutable uint64_t ops_ = 0;
  mutable std::map<std::string, uint64_t> sync_ops_;  // file → operation count at its last sync
};

}  // namespace kiseki::testing
