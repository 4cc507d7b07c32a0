// Shipping a shard's state between nodes as files: the serving node makes a
// RocksDB checkpoint of its store (hard links, no copy of the data), the
// installing node reads its files in pieces over the fabric (never the whole
// state in memory) and installs it (shard_fsm.h). docs/cluster.md#snapshots.
//
//   kSnapshotOpen  u64 shard · u64 min index → str token · u32 n · n × (str file · u64 size)
//   kSnapshotRead  str token · str file · u64 offset · u32 max → bytes
//   kSnapshotClose str token → (empty)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/peers.h"
#include "cluster/snapshot_types.h"
#include "common/bytes.h"
#include "common/status.h"
#include "meta/store.h"

namespace kiseki::cluster {

// The serving side: checkpoints made for other nodes, under `dir`, each gone
// at its close or after `ttl` without a read.
class SnapshotSource {
 public:
  SnapshotSource(std::string dir, std::chrono::seconds ttl = std::chrono::seconds(600));
  ~SnapshotSource();
  // A checkpoint of `store` (whose applied index is `applied`) for a node that
  // needs every entry through `min_index`; kUnavailable if this node has not
  // applied that far.
  Result<std::string> open(meta::Store* store, uint64_t applied, uint64_t min_index,
                           std::vector<CheckpointFile>* files);
  Status read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max, std::string* out);
  void close(std::string_view token);
  // Removes every checkpoint at once (a crypto-shred: no copy of the erased
  // state may stay behind).
  void drop_all();

 private:
  void expire_locked();
  std::string dir_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> open_;  // token → last use
  uint64_t next_ = 1;
};

// The installing side: copies a checkpoint holding every entry through
// `min_index` into the new directory `dest`, from `candidates` in order (the
// first that has one serves it). Files are written, fsynced, then the
// directory.
Status fetch_checkpoint(Peers* peers, uint64_t shard, const std::vector<uint64_t>& candidates, uint64_t min_index,
                        const std::string& dest);

}  // namespace kiseki::cluster
