// What a power cut keeps of the files under one directory, for the power-cut
// Env (power_cut_env.h) and the power-cut FUSE file system
// (tests/tools/powercut_fs.cc): per file, how many bytes its last
// fsync/fdatasync made durable; per directory, which entries its last fsync
// made durable; entries replaced or removed since (kept by hard links outside
// the directory); and where the last write began. cut() drops the rest:
// files cut back to their durable size, new entries removed, replaced or
// removed ones brought back, optionally tearing the last write (a random part
// of it kept).
//
// Files are modelled as append-only (what the segment store, the key files
// and RocksDB write): an overwrite in place of synced bytes is not undone.
// Paths are absolute and normal; not thread-safe (the callers lock).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kiseki::testing {

class PowerCutModel {
 public:
  // `save_dir`, outside `root` on the same file system, keeps removed entries.
  PowerCutModel(std::string root, std::string save_dir);
  ~PowerCutModel();

  // Everything under the root now is durable.
  void baseline();
  // Called before the operation it names.
  void before_sync(const std::string& file);  // whatever it holds now is durable after the sync
  void before_sync_dir(const std::string& dir);
  void before_write(const std::string& file, uint64_t offset);
  // Where the last write ended: given by who knows it, else taken as the
  // file's size when the power goes (what is written after it never counts).
  void wrote(uint64_t end) { last_write_end_ = end; }
  void power_went();
  void before_remove(const std::string& path);
  void before_rename(const std::string& from, const std::string& to);
  void truncated(const std::string& file, uint64_t size);

  struct Report {
    uint64_t entries_removed = 0, entries_restored = 0, files_truncated = 0, bytes_dropped = 0, torn_bytes_kept = 0;
    std::string to_string() const;
  };
  // Drops what was not durable (nothing may have the files open), then
  // baseline(): what is left is durable.
  Report cut(bool tear, uint64_t seed);

  static std::string normal(const std::string& path);

 private:
  struct Saved {
    std::string path, copy;
    uint64_t synced = 0;
  };
  void snapshot_dir(const std::string& dir);
  bool durable_entry(const std::string& path) const;
  void save(const std::string& path);

  std::string root_, save_dir_;
  std::map<std::string, uint64_t> synced_;                // file → bytes durable
  std::map<std::string, std::set<std::string>> entries_;  // directory → names durable
  std::vector<Saved> saved_;
  std::string last_written_;
  uint64_t last_write_at_ = 0, last_write_end_ = 0;
  uint64_t saves_ = 0;
};

}  // namespace kiseki::testing
