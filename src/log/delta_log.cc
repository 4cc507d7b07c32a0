#include "log/delta_log.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/logging.h"
#include "common/kill_point.h"

namespace kiseki::log {

static constexpr std::string_view kAppliedIndexKey = "applied_index";

DeltaLog::DeltaLog(meta::Store* store, StateMachine* sm, const LogOptions& opts)
    : store_(store), sm_(sm), opts_(opts) {
  std::string v;
  if (store_->get(meta::Cf::kSystem, kAppliedIndexKey, &v).is_ok() && v.size() == 8)
    applied_index_ = get_be64(reinterpret_cast<const uint8_t*>(v.data()));
  auto& m = MetricsRegistry::global();
  records_ = m.counter("kiseki_log_records_total", "Delta records applied");
  groups_ = m.counter("kiseki_log_group_commits_total", "Group commits (one WAL write each)");
  commit_seconds_ = m.histogram("kiseki_log_commit_seconds", "Latency of one group's apply and WAL write");
  wal_sync_seconds_ = m.histogram("kiseki_log_wal_sync_seconds", "Latency of one WAL sync (with the syncs before it)");
  wal_syncs_ = m.counter("kiseki_log_wal_syncs_total", "WAL syncs (each covers every group written before it)");
  faults_ = m.counter("kiseki_log_apply_faults_total", "Groups aborted by a read or decode error during apply");
  if (opts_.durability == Durability::kGroup) sync_thread_ = std::thread([this] { group_sync_loop(); });
}

DeltaLog::~DeltaLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (opts_.durability != Durability::kNone && (!opts_.before_commit || opts_.before_commit().is_ok()))
    (void)store_->sync_wal();
}

uint64_t DeltaLog::applied_index() const {
  std::lock_guard lock(mu_);
  return applied_index_;
}

Status DeltaLog::fault() const {
  std::lock_guard lock(sync_mu_);
  return sync_fault_;
}

Status DeltaLog::sync() {
  // Whatever a caller was answered for is written through applied_index():
  // one WAL sync round covers it, shared with concurrent callers. Records
  // still queued have answered no one yet.
  {
    std::lock_guard lock(sync_mu_);
    if (!sync_fault_.is_ok()) return sync_fault_;
  }
  return sync_through(applied_index());
}

Result<std::string> DeltaLog::submit(std::string_view record, bool durable, bool refs_synced) {
  Pending p;
  p.record = record;
  return submit_pending(p, durable, refs_synced);
}

Result<std::string> DeltaLog::submit_finished(const RecordFinisher& finish, bool durable, bool refs_synced) {
  Pending p;
  p.finish = &finish;
  return submit_pending(p, durable, refs_synced);
}

Result<std::string> DeltaLog::submit_pending(Pending& p, bool durable, bool refs_synced) {
  p.durable = durable;
  p.relies = opts_.before_commit && !(durable && opts_.durability == Durability::kSync);
  p.presync = !refs_synced && !p.relies && opts_.before_write;
  KISEKI_TRY(run(&p));
  return std::move(p.out);
}

void DeltaLog::fail_all(Group& group, const Status& st) {
  for (auto* p : group) {
    p->status = st;
    p->out.clear();
  }
}

DeltaLog::Group DeltaLog::take_group() {
  Group group;
  for (auto it = queue_.begin(); it != queue_.end() && group.size() < opts_.max_group;) {
    Pending* q = *it;
    if (!takeable(q)) {
      ++it;
      continue;
    }
    q->queued = false;
    group.push_back(q);
    it = queue_.erase(it);
  }
  return group;
}

void DeltaLog::wake_leader() {
  if (leader_active_ || !can_lead()) return;
  for (Pending* q : queue_)
    if (!q->busy) {
      q->cv.notify_one();
      return;
    }
  // Every queued record's thread is busy: each checks again when it is done.
}

void DeltaLog::note_round(bool running) {
  std::lock_guard lock(mu_);
  wal_round_ = running;
  if (running) ++rounds_begun_;
  else wake_leader();
}

Status DeltaLog::run(Pending* pp) {
  Pending& p = *pp;
  std::unique_lock lock(mu_);
  queue_.push_back(&p);
  p.queued = true;
  p.rounds_seen = rounds_begun_;
  p.presyncs_begun = presyncs_begun_;
  for (;;) {
    if (p.done) break;
    if (p.queued && presync_wanted()) {
      presync(p, lock);
      continue;
    }
    if (!p.handed.empty()) {
      // Its group's leader left this record's WAL sync to its own thread.
      Group group = std::move(p.handed);
      p.handed.clear();
      finish_group(group, p.handed_index, p, lock);
      continue;
    }
    if (!leader_active_ && p.queued && can_lead()) {
      // Become the leader: take what may be written now (usually everything
      // queued, ours included; perhaps not ours) and commit it.
      leader_active_ = true;
      p.busy = true;
      Group group = take_group();
      lock.unlock();
      std::optional<uint64_t> sync_index = commit_group(group);
      lock.lock();
      // The next group may apply now (it reads what this one wrote) while this
      // one's WAL sync runs.
      leader_active_ = false;
      wake_leader();
      if (sync_index) {
        // Records that were not to be durable (unstable writes) are answered
        // now; only the others wait for the WAL sync.
        for (auto it = group.begin(); it != group.end();) {
          Pending* g = *it;
          if (g->durable) {
            ++it;
            continue;
          }
          g->done = true;
          if (g != &p) g->cv.notify_one();
          it = group.erase(it);
        }
        // Unless this thread's own record waits for it, the sync is left to
        // the thread of one that does: this one goes back to its own record.
        if (!group.empty() && std::find(group.begin(), group.end(), &p) == group.end()) {
          Pending* h = group.front();
          h->handed = std::move(group);
          h->handed_index = *sync_index;
          h->cv.notify_one();
          group.clear();
        }
      }
      finish_group(group, sync_index, p, lock);
      p.busy = false;
      continue;
    }
    p.cv.wait(lock);
  }
  return p.status;
}

void DeltaLog::finish_group(Group& group, std::optional<uint64_t> sync_index, Pending& self,
                            std::unique_lock<std::mutex>& lock) {
  if (sync_index && !group.empty()) {
    lock.unlock();
    Status st = sync_through(*sync_index);
    lock.lock();
    if (!st.is_ok()) fail_all(group, st);
  }
  for (auto* g : group) {
    g->done = true;
    if (g != &self) g->cv.notify_one();
  }
}

void DeltaLog::presync(Pending& p, std::unique_lock<std::mutex>& lock) {
  presyncing_ = true;
  uint64_t n = ++presyncs_begun_;
  p.busy = true;
  wake_leader();  // someone else leads meanwhile (p's thread may have been woken to)
  lock.unlock();
  // Every record queued before now had its chunks appended before now: this
  // sync covers them. Leaders meanwhile write whatever else is queued.
  Status st = opts_.before_write();
  lock.lock();
  presyncing_ = false;
  p.busy = false;
  if (st.is_ok()) {
    presync_done_ = n;
  } else {
    // A failed segment sync is sticky (fail-stop): the records waiting for one
    // fail with it.
    for (auto it = queue_.begin(); it != queue_.end();) {
      Pending* q = *it;
      if (!unsynced(q) || q->presyncs_begun >= n) {
        ++it;
        continue;
      }
      q->queued = false;
      q->status = st;
      q->done = true;
      if (q != &p) q->cv.notify_one();
      it = queue_.erase(it);
    }
  }
  // Records queued during this sync need the next one: the first whose thread
  // waits runs it.
  for (Pending* q : queue_)
    if (q != &p && !q->busy && unsynced(q)) {
      q->cv.notify_one();
      break;
    }
  wake_leader();
}

std::optional<uint64_t> DeltaLog::commit_group(Group& group) {
  auto fail = [&](const Status& st) {
    fail_all(group, st);
    return std::nullopt;
  };
  {
    std::lock_guard lock(sync_mu_);
    if (!sync_fault_.is_ok()) return fail(sync_fault_);
  }
  auto t0 = std::chrono::steady_clock::now();
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  meta::Txn txn(store_, &batch);
  uint64_t index = applied_index_;  // only the leader changes it
  size_t applied = 0;
  bool sync = false;
  for (auto* p : group) {
    if (p->finish) {
      // Made in this turn (submit_finished); a record that cannot be made
      // fails alone, before anything of it applies.
      if (Status st = (*p->finish)(&p->made); !st.is_ok()) {
        p->status = st;
        continue;
      }
      p->record = p->made;
    }
    sync |= p->durable;
    if (opts_.on_apply) opts_.on_apply(p->record);
    ApplyResult r;
    Status fault = sm_->apply(p->record, txn, &r);
    if (!fault.is_ok()) {
      // Fail-stop: nothing of this group is written; every record in it fails.
      faults_->inc();
      return fail(fault);
    }
    p->status = std::move(r.status);
    p->out = std::move(r.out);
    ++applied;
    ++index;
  }
  sync &= opts_.durability == Durability::kSync;
  txn.put(meta::Cf::kSystem, kAppliedIndexKey, meta::key_u64(index));
  // Each key once: the group's records rewrote the same counters and parent
  // directories, and each write costs the memtable an insert.
  rocksdb::WriteBatch last;
  rocksdb::WriteBatch* out = store_->last_writes(batch, &last) ? &last : batch.GetWriteBatch();
  if (opts_.add_local) opts_.add_local(out, index);
  // Never synced here: under kSync the sync is the next stage (sync_through).
  Status st = store_->write(out, false);
  if (st.is_ok()) KISEKI_KILL_POINT("log.after_wal_write");
  if (opts_.local_done) opts_.local_done(index, st.is_ok());
  if (!st.is_ok()) return fail(st);
  {
    std::lock_guard lock(mu_);
    applied_index_ = index;
  }
  records_->inc(applied);
  groups_->inc();
  commit_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!sync) return std::nullopt;
  return index;
}

Status DeltaLog::sync_through(uint64_t index) {
  std::unique_lock lock(sync_mu_);
  while (synced_index_ < index) {
    if (!sync_fault_.is_ok()) return sync_fault_;
    if (wal_syncing_) {
      // Woken only when the round that ends covers `index`, or to run the next.
      SyncWaiter me{index};
      sync_waiters_.push_back(&me);
      me.cv.wait(lock, [&] { return me.woken; });
      continue;
    }
    wal_syncing_ = true;
    lock.unlock();
    // Everything written before the WAL sync has its references durable by
    // the time it runs (write order): a durable record under kSync synced its
    // own chunks, and one that relies on before_commit was queued before this
    // round began (takeable), so before_commit covers its chunks. The WAL sync
    // covers at least `target`.
    auto t0 = std::chrono::steady_clock::now();
    if (opts_.before_commit) note_round(true);  // leaders now pass over the records queued since
    uint64_t target = applied_index();
    Status st = opts_.before_commit ? opts_.before_commit() : Status::ok();
    if (st.is_ok()) st = store_->sync_wal();
    if (st.is_ok()) KISEKI_KILL_POINT("log.after_wal_sync");
    if (opts_.before_commit) note_round(false);  // and those may be written
    wal_sync_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    wal_syncs_->inc();
    lock.lock();
    wal_syncing_ = false;
    if (!st.is_ok()) {
      // Written records may be visible yet not durable, and a failed fsync may
      // have dropped their pages: nothing more is acknowledged.
      KLOG_ERROR("delta log: WAL sync failed, refusing every later write: {}", st.to_string());
      sync_fault_ = st;
      wake_sync_waiters();
      return st;
    }
    if (target > synced_index_) synced_index_ = target;
    wake_sync_waiters();
  }
  return Status::ok();
}

void DeltaLog::wake_sync_waiters() {
  bool next_round_led = false;
  std::erase_if(sync_waiters_, [&](SyncWaiter* w) {
    bool covered = w->index <= synced_index_ || !sync_fault_.is_ok();
    if (!covered && std::exchange(next_round_led, true)) return false;  // sleeps through the next round
    w->woken = true;
    w->cv.notify_one();
    return true;
  });
}

void DeltaLog::group_sync_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(opts_.group_commit_ms));
    if (stop_) break;
    uint64_t index = applied_index_;
    lock.unlock();
    (void)sync_through(index);  // nothing to do if no group was written since the last sync
    lock.lock();
  }
}

}  // namespace kiseki::log
