// The local delta log. Callers submit records (serialized delta batches); a
// leader thread among the waiting callers applies every pending record, in
// order, into one RocksDB WriteBatch and commits it with one WAL write (group
// commit). Under `sync` the WAL fsync is a second, pipelined stage: the leader
// hands the apply turn on as soon as its batch is written, and syncs the WAL
// while the next group applies; one fsync covers every group written before it
// began. A record that relies on before_commit (an UNSTABLE write's) and was
// queued after a WAL sync round began waits out that round in the queue, while
// the records behind it that do not rely on it go ahead; once written it is
// answered without waiting for a WAL sync. A durable record whose chunks are
// not synced yet (an S3 PUT's) waits in the queue for a segment sync
// (before_write) run by one of the waiting threads for all of them, while
// leaders write the others. RocksDB's
// WAL is the log: nothing is written twice. In a cluster the same records go
// through a Raft log and the same StateMachine::apply runs on every replica.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/durability.h"
#include "common/metrics.h"
#include "common/status.h"
#include "meta/store.h"
#include "meta/txn.h"
#include "log/log.h"

namespace kiseki::log {

class DeltaLog final : public Log {
 public:
  DeltaLog(meta::Store* store, StateMachine* sm, const LogOptions& opts);
  ~DeltaLog() override;

  // Applies and commits `record`; returns the state machine's output once the
  // commit is as durable as the durability mode promises. Under kSync the
  // record is visible to readers once written, a moment before its WAL sync
  // returns (a reader may see a write not yet acknowledged; durability is a
  // prefix of the WAL, so nothing that depends on it can outlive it). `durable = false`
  // skips the fsync even under `sync` (NFS UNSTABLE writes): the record is
  // durable once a later durable commit or sync_wal covers the WAL after it.
  Result<std::string> submit(std::string_view record, bool durable = true, bool refs_synced = true) override;
  // The leader runs `finish` just before it applies the record (in its group,
  // in queue order).
  Result<std::string> submit_finished(const RecordFinisher& finish, bool durable = true,
                                      bool refs_synced = true) override;

  // Makes every record whose submit returned durable: one WAL sync round
  // (before_commit, then the WAL), shared by concurrent callers. It does not
  // queue behind the group commit.
  Status sync() override;

  uint64_t applied_index() const override;
  // The failed WAL sync that stopped this log taking records; ok while none.
  Status fault() const override;

 private:
  struct Pending;
  // The records of one group commit, in queue order (a vector: a Pending,
  // made per submit, holds an empty one without allocating).
  using Group = std::vector<Pending*>;
  struct Pending {
    std::string_view record;
    const RecordFinisher* finish = nullptr;  // makes `record` (into `made`) in the leader's turn
    std::string made;
    bool durable = true;
    // It relies on before_commit (every record but a durable one under kSync,
    // when before_commit is set): not written during a WAL sync round that
    // began after it was queued, whose before_commit may not cover its chunks.
    bool relies = false;
    uint64_t rounds_seen = 0;  // rounds_begun_ when it was queued
    // Its chunks are not synced yet: it waits in the queue until a segment
    // sync (before_write) that began after it was queued has ended.
    bool presync = false;
    uint64_t presyncs_begun = 0;  // when it was queued
    bool queued = false;   // waiting in queue_ (not yet taken into a group)
    bool busy = false;     // its thread leads a group (of others' records) or runs a presync now
    // Its group, whose WAL sync its leader left to this record's thread (the
    // leader's own record was not in it, or not to be durable).
    Group handed;
    uint64_t handed_index = 0;
    Status status;
    std::string out;
    bool done = false;
    // Signalled when this record is done, or when it heads the queue and no
    // leader is active: each waiter wakes only for its own news.
    std::condition_variable cv;
  };
  Result<std::string> submit_pending(Pending& p, bool durable, bool refs_synced);
  Status run(Pending* p);  // queues p and waits for its group commit
  // With mu_ held, for the helpers below.
  // `q`'s chunks wait for a before_write that began after it was queued.
  bool unsynced(const Pending* q) const { return q->presync && presync_done_ <= q->presyncs_begun; }
  // `q` may be written now: neither a record that relies on before_commit
  // while a WAL sync round runs that began after it was queued, nor one whose
  // chunks are unsynced. A round's before_commit covers every chunk appended
  // before the round began, so a record queued before it may be written at any
  // time: whichever WAL sync makes it durable comes after a segment sync that
  // covered its chunks.
  bool takeable(const Pending* q) const {
    return !(q->relies && wal_round_ && q->rounds_seen == rounds_begun_) && !unsynced(q);
  }
  // A leader could take a group now.
  bool can_lead() const {
    return std::any_of(queue_.begin(), queue_.end(), [&](const Pending* q) { return takeable(q); });
  }
  // A queued record waits for a before_write and none runs.
  bool presync_wanted() const {
    return !presyncing_ && std::any_of(queue_.begin(), queue_.end(), [&](const Pending* q) { return unsynced(q); });
  }
  // Runs before_write for every record queued so far, from the thread of the
  // queued `p`; mu_ is released meanwhile. A failure fails the records that
  // waited for it (the segment store's failed sync is sticky).
  void presync(Pending& p, std::unique_lock<std::mutex>& lock);
  // Takes the next group off the queue: the takeable records (they pass the
  // queued ones that are not, which wait for a round's end or a presync).
  // With mu_ held.
  Group take_group();
  // Wakes a waiter to lead if no leader is active and a group could be taken:
  // the first queued whose thread waits (not busy with a group of its own).
  void wake_leader();
  // A WAL sync round begins (before its before_commit) or ends (after its
  // WAL sync).
  void note_round(bool running);
  // Syncs the WAL through `sync_index` if set (mu_ released meanwhile), then
  // answers every record of the group; `self` is the calling thread's own.
  void finish_group(Group& group, std::optional<uint64_t> sync_index, Pending& self,
                    std::unique_lock<std::mutex>& lock);
  // Every record of the group gets `st` and no output.
  static void fail_all(Group& group, const Status& st);
  // Applies and writes the group; the index to sync through if it must be
  // durable before its records are answered.
  std::optional<uint64_t> commit_group(Group& group);
  // Makes the WAL durable through applied index `index`: concurrent callers
  // share one fsync. A failed sync is sticky (fail-stop).
  Status sync_through(uint64_t index);
  // A caller of sync_through waiting for a round to end.
  struct SyncWaiter {
    uint64_t index;
    bool woken = false;
    std::condition_variable cv;
  };
  // At a round's end (sync_mu_ held): wakes the waiters it covered (all of
  // them after a failed sync) and one that it did not, to run the next round;
  // the others sleep on through it.
  void wake_sync_waiters();
  void group_sync_loop();

  meta::Store* store_;
  StateMachine* sm_;
  LogOptions opts_;

  // Guards queue_, leader_active_, the round and presync counters,
  // applied_index_, Pending::done
  mutable std::mutex mu_;
  std::deque<Pending*> queue_;
  bool leader_active_ = false;
  bool wal_round_ = false;       // a WAL sync round runs, from its before_commit through its WAL sync
  uint64_t rounds_begun_ = 0;    // WAL sync rounds with a before_commit begun
  bool presyncing_ = false;     // a before_write runs now
  uint64_t presyncs_begun_ = 0;  // before_write calls begun
  uint64_t presync_done_ = 0;    // the last of them that ended well (they run one at a time)
  uint64_t applied_index_ = 0;  // written (and visible) through here

  mutable std::mutex sync_mu_;  // guards the WAL sync stage below
  std::vector<SyncWaiter*> sync_waiters_;  // in arrival order
  bool wal_syncing_ = false;
  uint64_t synced_index_ = 0;  // durable through here
  Status sync_fault_;          // a failed WAL sync: every later record fails

  bool stop_ = false;
  std::condition_variable stop_cv_;  // wakes the sync thread only to stop
  std::thread sync_thread_;
  Counter* records_;
  Counter* groups_;
  Histogram* commit_seconds_;
  Histogram* wal_sync_seconds_;
  Counter* wal_syncs_;
  Counter* faults_;
};

}  // namespace kiseki::log
