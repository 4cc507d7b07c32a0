// A metadata shard's Raft log on Canonical's raft library (libraft 0.15, its
// libuv I/O): the delta log of a cluster node. Records go through Raft; the
// same StateMachine::apply that a single node runs applies each committed
// record on every replica, and the applied index is written in the same
// RocksDB batch as the state it produced, so a restart resumes exactly where
// the store is (Raft replays its log past that index).
//
// All raft_* calls run on one loop thread (the library takes no locks);
// callers on other threads queue work to it. A record submitted on a follower
// is forwarded to the leader (`forward`), which answers with the record's
// index and result; the follower then waits until it has applied that index
// itself, so a caller reads its own write on any node.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/raft_host.h"
#include "cluster/shard_fsm.h"
#include "common/metrics.h"
#include "common/shared_round.h"
#include "common/status.h"
#include "log/log.h"
#include "meta/store.h"

namespace kiseki::cluster {

enum class RaftRole : uint8_t { kVoter, kStandby, kSpare };
const char* role_name(RaftRole r);

struct RaftMember {
  uint64_t id = 0;
  std::string address;  // the Raft port, "a.b.c.d:port"
  RaftRole role = RaftRole::kVoter;
};

struct RaftShardStatus {
  uint64_t shard = 0;
  uint64_t leader = 0;  // 0 while none is known
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  uint64_t snapshot_index = 0;
  std::string role;  // "leader", "follower", "candidate", "unavailable"
  // status_within: the loop did not answer in time (it may be installing a
  // snapshot); the values are the last the loop gave (none: all zero).
  bool busy = false;
  std::vector<RaftMember> members;  // the configuration as this node knows it
  // On the leader: how far each member's log matches (its replication lag is
  // last_index minus this).
  std::vector<std::pair<uint64_t, uint64_t>> match;
};

struct RaftLogOptions {
  uint64_t shard = 0;
  uint64_t node_id = 0;
  std::string dir;      // the library's own files (segments, metadata), one per shard
  std::string address;  // this node's Raft address
  // The first configuration, used once: when `dir` holds no Raft state yet
  // (empty: a node that joins; the leader adds it).
  std::vector<RaftMember> initial;
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_ms = 100;
  // How long submit keeps trying (elections, forwards) before kUnavailable.
  std::chrono::milliseconds submit_timeout{10000};
  // Sends a record to the leader (another node) and returns what it committed.
  std::function<Result<Committed>(uint64_t leader, std::string_view record, std::chrono::milliseconds deadline)>
      forward;
  // Asks another voter whether it still follows this node in `term` (the
  // leader's check before it answers a read index).
  std::function<Result<bool>(uint64_t node, uint64_t term, std::chrono::milliseconds deadline)> confirm;
  // Asks the leader for an index a linearizable read must wait for.
  std::function<Result<uint64_t>(uint64_t leader, std::chrono::milliseconds deadline)> read_index;
  // Snapshots: one every `snapshot_threshold` entries, `snapshot_trailing`
  // entries kept behind it for followers that lag a little.
  unsigned snapshot_threshold = 8192;
  unsigned snapshot_trailing = 2048;
  // Copies another node's state when the leader sends a snapshot (ShardFsmOptions).
  std::function<Status(uint64_t origin, uint64_t min_index, const std::string& dest)> fetch_checkpoint;
};

class RaftLog final : public log::Log {
 public:
  // A group of `host`'s loop, which must outlive it.
  static Result<std::unique_ptr<RaftLog>> open(RaftHost* host, meta::Store* store, log::StateMachine* sm,
                                               const log::LogOptions& log_opts, const RaftLogOptions& opts);
  ~RaftLog() override;

  Result<std::string> submit(std::string_view record, bool durable = true, bool refs_synced = true) override;
  // Every committed record is durable on a majority already: waits only until
  // what was submitted before is applied here.
  Status sync() override;
  Status read_barrier() override;
  uint64_t applied_index() const override;
  Status fault() const override;

  // The leader's side of a forward: proposes `record` here. kUnavailable with
  // the message "not leader" (and the leader's id in `*leader`) on a follower.
  Result<Committed> propose(std::string_view record, uint64_t* leader = nullptr);
  // The leader's side of a read barrier: its applied index, once a majority of
  // voters confirmed this node still leads in its term.
  Result<uint64_t> leader_read_index(uint64_t* leader = nullptr);
  // Whether this node follows `leader` in `term` (the answer to confirm).
  bool follows(uint64_t leader, uint64_t term);
  // Waits until this node has applied `index`.
  Status wait_applied(uint64_t index, std::chrono::milliseconds timeout) { return fsm_->wait_applied(index, timeout); }
  // Waits for the Raft loop (decisions that need the current values).
  RaftShardStatus status();
  // For reports (the status API): waits at most `wait` for the loop, else gives
  // the last values it read, marked busy. A loop held by a long snapshot install
  // must not hold an operator's status call.
  RaftShardStatus status_within(std::chrono::milliseconds wait);
  uint64_t leader() const { return leader_.load(); }
  bool leads() const override { return leader_.load() == opts_.node_id; }

  // Membership, on the leader (kUnavailable "not leader" elsewhere), one
  // change at a time as the library allows: a new member starts as a spare,
  // becomes a standby (a learner: it receives the log, does not vote) and a
  // voter once it has caught up.
  Status add_member(uint64_t id, const std::string& address);
  Status assign(uint64_t id, RaftRole role);
  Status remove_member(uint64_t id);
  // Hands leadership to `id` (0: the most up to date voter).
  Status transfer(uint64_t id);

  // For the raft callbacks (C linkage, in raft_log.cc).
  struct Impl;

 private:
  RaftLog() = default;
  // Runs `fn` on the loop thread and waits for it.
  void run_on_loop(std::function<void()> fn);
  // Runs `fn` on the loop if this node leads (else answers "not leader") and
  // waits until `fn`'s request finishes the waiter.
  std::shared_ptr<struct Waiter> as_leader(
      std::function<void(struct raft*, const std::shared_ptr<struct Waiter>&)> fn);
  // Runs a membership change on the loop and waits for its callback.
  Status change(const char* what, std::function<int(struct raft*, struct raft_change*)> start);
  // One confirmation round: the applied index, once a majority of voters said
  // they still follow this node in its term.
  Result<uint64_t> confirm_round();

  std::unique_ptr<Impl> impl_;
  std::unique_ptr<ShardFsm> fsm_;
  RaftLogOptions opts_;
  std::atomic<uint64_t> leader_{0};

  RaftHost* host_ = nullptr;

  // This node's leadership as the loop last saw it (confirm_round).
  struct LeadView {
    bool ready = false;  // leader, and a barrier of its term applied
    uint64_t term = 0;
    size_t voters = 0;
    std::vector<uint64_t> peers;  // the other voters
  };
  std::mutex lead_mu_;
  LeadView lead_;

  RaftShardStatus read_status();  // on the loop
  std::mutex status_mu_;
  RaftShardStatus last_status_;  // the last read_status(), for status_within

  // Reads share confirmation rounds: a round that began after a caller asked
  // answers it (as the delta log shares WAL syncs).
  SharedRound<Result<uint64_t>> confirm_rounds_{Result<uint64_t>(0)};
  // On a follower: calls to the leader for its read index, shared alike.
  SharedRound<Result<uint64_t>> index_rounds_{Result<uint64_t>(0)};

  Counter* forwarded_ = nullptr;
  Gauge* term_ = nullptr;
  Gauge* is_leader_ = nullptr;
  std::map<uint64_t, Gauge*> lag_;  // by member (the loop thread's)
};

}  // namespace kiseki::cluster
