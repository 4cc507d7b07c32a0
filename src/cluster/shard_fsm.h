// The state machine side of one metadata shard's Raft group: the raft_fsm that
// libraft calls. It applies each committed entry with the single node's
// StateMachine in one RocksDB batch that also records the entry's index, takes
// snapshots as RocksDB checkpoints of the store and installs another node's
// checkpoint when the leader sends a snapshot (docs/cluster.md#snapshots).
//
// libraft calls it on its loop thread only; other threads read `applied()` and
// wait for an index.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

extern "C" {
#include <raft.h>
}

#include "common/metrics.h"
#include "common/status.h"
#include "log/log.h"
#include "meta/store.h"

namespace kiseki::cluster {

// What the leader answers for one record: where it sits in the log and what
// applying it gave.
struct Committed {
  uint64_t index = 0;
  Status status;
  std::string out;
};

// A snapshot as libraft stores and ships it: a small manifest. The state is
// the store of the node that took it, copied as a RocksDB checkpoint over the
// fabric when another node installs it (snapshot_transfer.h).
struct SnapshotManifest {
  uint64_t shard = 0;
  uint64_t index = 0;   // the store held every entry through here, durably
  uint64_t origin = 0;  // the node that took it
};
std::string encode_manifest(const SnapshotManifest& m);
Result<SnapshotManifest> decode_manifest(std::string_view data);

struct ShardFsmOptions {
  uint64_t shard = 0;
  uint64_t node_id = 0;
  std::string dir;  // the shard's Raft directory: a snapshot being installed lands in incoming/
  // Copies a checkpoint of the shard's state that holds at least every entry
  // through `min_index` into the new directory `dest`: from node `origin`
  // first, else from any node that has applied that far.
  std::function<Status(uint64_t origin, uint64_t min_index, const std::string& dest)> fetch_checkpoint;
};

class ShardFsm {
 public:
  ShardFsm(meta::Store* store, log::StateMachine* sm, log::LogOptions log_opts, ShardFsmOptions opts);
  ShardFsm(const ShardFsm&) = delete;
  ShardFsm& operator=(const ShardFsm&) = delete;

  raft_fsm* fsm() { return &fsm_; }
  // The raft instance whose entries this applies (its last_applied numbers them).
  void attach(struct raft* r) { raft_ = r; }

  uint64_t applied() const;
  // Entries that reach no state machine (barriers, configurations) still count
  // as applied: raises applied() to the library's last applied index.
  void advance(uint64_t last_applied);
  // The failure that stopped this node applying; ok while none.
  Status fault() const;
  Status wait_applied(uint64_t index, std::chrono::milliseconds timeout) const;

  // libraft's callbacks (raft_fsm), on the loop thread.
  int apply(const raft_buffer* buf, void** result);
  int snapshot(raft_buffer* bufs[], unsigned* n_bufs);
  int restore(raft_buffer* buf);

 private:
  int fail_stop(uint64_t index, const Status& st);
  // Replaces this store's replicated state with the checkpoint in `dir`, which
  // holds every entry through `index`.
  Status install(const std::string& dir, uint64_t index);

  meta::Store* store_;
  log::StateMachine* sm_;
  log::LogOptions log_opts_;
  ShardFsmOptions opts_;
  raft_fsm fsm_{};
  struct raft* raft_ = nullptr;
  Committed slot_;  // what the entry being applied gave, for the leader's callback

  mutable std::mutex mu_;  // guards applied_, fault_
  mutable std::condition_variable applied_cv_;
  uint64_t applied_ = 0;  // the store shows every entry through here
  Status fault_;

  Counter* records_;
  Counter* snapshots_;
  Counter* installs_;
  Histogram* apply_seconds_;
  Gauge* applied_gauge_;
};

}  // namespace kiseki::cluster
