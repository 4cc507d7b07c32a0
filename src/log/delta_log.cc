#include "log/delta_log.h"

#include <chrono>

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
  commit_seconds_ = m.histogram("kiseki_log_commit_seconds", "Latency of one group commit");
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

Status DeltaLog::sync() {
  Pending p{{}, true, true, Status::ok(), {}, false};
  return run(&p);
}

Result<std::string> DeltaLog::submit(std::string_view record, bool durable) {
  Pending p{record, durable, false, Status::ok(), {}, false};
  KISEKI_TRY(run(&p));
  return std::move(p.out);
}

Status DeltaLog::run(Pending* pp) {
  Pending& p = *pp;
  std::unique_lock lock(mu_);
  queue_.push_back(&p);
  for (;;) {
    if (p.done) break;
    if (!leader_active_) {
      // Become the leader: take everything queued (ours included) and commit it.
      leader_active_ = true;
      std::deque<Pending*> group;
      while (!queue_.empty() && group.size() < opts_.max_group) {
        group.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      commit_group(group);
      lock.lock();
      leader_active_ = false;
      for (auto* g : group) {
        g->done = true;
        if (g != &p) g->cv.notify_one();
      }
      if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
      continue;
    }
    p.cv.wait(lock);
  }
  return p.status;
}

void DeltaLog::commit_group(std::deque<Pending*>& group) {
  auto t0 = std::chrono::steady_clock::now();
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  meta::Txn txn(store_, &batch);
  uint64_t index = applied_index_;  // only the leader touches it between groups
  size_t applied = 0;
  bool sync = false, barrier = false;
  Status fault;
  for (auto* p : group) {
    sync |= p->durable;
    barrier |= p->barrier;
    if (p->barrier) continue;
    if (opts_.on_apply) opts_.on_apply(p->record);
    ApplyResult r;
    fault = sm_->apply(p->record, txn, &r);
    if (!fault.is_ok()) break;
    p->status = std::move(r.status);
    p->out = std::move(r.out);
    ++applied;
    ++index;
  }
  if (!fault.is_ok()) {
    // Fail-stop: nothing of this group is written; every record in it fails.
    faults_->inc();
    for (auto* p : group) {
      p->status = fault;
      p->out.clear();
    }
    return;
  }
  if (applied == 0) {
    // Only barriers: sync what earlier groups left unsynced.
    Status st = opts_.before_commit ? opts_.before_commit() : Status::ok();
    if (st.is_ok()) st = store_->sync_wal();
    for (auto* p : group) p->status = st;
    return;
  }
  txn.put(meta::Cf::kSystem, kAppliedIndexKey, meta::key_u64(index));
  sync &= opts_.durability == Durability::kSync || barrier;
  Status st = sync && opts_.before_commit ? opts_.before_commit() : Status::ok();
  if (opts_.add_local) opts_.add_local(batch.GetWriteBatch(), index);
  if (st.is_ok()) st = store_->write(batch.GetWriteBatch(), sync);
  if (opts_.local_done) opts_.local_done(index, st.is_ok());
  if (!st.is_ok()) {
    for (auto* p : group) {
      p->status = st;
      p->out.clear();
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    applied_index_ = index;
  }
  records_->inc(applied);
  groups_->inc();
  commit_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void DeltaLog::group_sync_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(opts_.group_commit_ms));
    if (stop_) break;
    lock.unlock();
    if (!opts_.before_commit || opts_.before_commit().is_ok()) (void)store_->sync_wal();
    lock.lock();
  }
}

}  // namespace kiseki::log
