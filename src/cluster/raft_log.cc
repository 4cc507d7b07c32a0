#include "cluster/raft_log.h"

#include <condition_variable>
#include <cstring>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>
}

#include "cluster/raft_entry.h"
#include "cluster/shard_fsm.h"
#include "common/bytes.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace kiseki::cluster {

// One request on the loop (a proposal, a change) waited for by its caller.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;  // of the proposal (not leader, leadership lost); ok once applied
  Committed committed;
  void finish(Status st, Committed c = {}) {
    std::lock_guard lock(mu);
    status = std::move(st);
    committed = std::move(c);
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};

namespace {
using Clock = std::chrono::steady_clock;

Status raft_error(int rv, std::string_view what) {
  return make_error(ErrorCode::kIoError, std::string(what) + ": " + raft_strerror(rv));
}

struct ApplyRequest {
  struct raft_apply req{};
  std::shared_ptr<Waiter> waiter;
};
}  // namespace

struct RaftLog::Impl {
  RaftLog* owner = nullptr;
  uv_timer_t tick{};
  raft_uv_transport transport{};
  raft_io io{};
  struct raft raft{};
  bool started = false;
  bool stopping = false;
  bool leader_ready = false;  // a barrier of this term has applied: old-term entries are committed
  struct raft_barrier barrier{};
  bool barrier_pending = false;
  // Set by the close callbacks once the group is gone from the loop.
  std::shared_ptr<Waiter> closed;
  void on_tick();
  void barrier_done(int status) {
    barrier_pending = false;
    owner->fsm_->advance(raft.last_applied);
    if (status == 0 && raft.state == RAFT_LEADER) leader_ready = true;
    publish_lead();
  }
  // What confirm rounds need of this node's leadership, for other threads.
  void publish_lead() {
    RaftLog::LeadView v;
    v.ready = raft.state == RAFT_LEADER && leader_ready && !stopping;
    v.term = raft.current_term;
    for (unsigned i = 0; i < raft.configuration.n; ++i) {
      const auto& srv = raft.configuration.servers[i];
      if (srv.role != RAFT_VOTER) continue;
      ++v.voters;
      if (srv.id != owner->opts_.node_id) v.peers.push_back(srv.id);
    }
    std::lock_guard lock(owner->lead_mu_);
    owner->lead_ = std::move(v);
  }
};

namespace {

void on_applied(struct raft_apply* req, int status, void* result) {
  std::unique_ptr<ApplyRequest> r(static_cast<ApplyRequest*>(req->data));
  if (status != 0) {
    // Leadership lost or shutdown: the entry may still commit; the submitter
    // sends it again with the same request id, which applies once.
    r->waiter->finish(make_error(ErrorCode::kUnavailable, std::string("not committed: ") + raft_strerror(status)));
    return;
  }
  r->waiter->finish(Status::ok(), *static_cast<Committed*>(result));
}

void on_barrier(struct raft_barrier* req, int status) { static_cast<RaftLog::Impl*>(req->data)->barrier_done(status); }

void on_tick_cb(uv_timer_t* t) { static_cast<RaftLog::Impl*>(t->data)->on_tick(); }

void on_raft_closed(struct raft* r) {
  auto* impl = static_cast<RaftLog::Impl*>(r->data);
  raft_uv_close(&impl->io);
  uv_close(reinterpret_cast<uv_handle_t*>(&impl->tick),
           [](uv_handle_t* h) { static_cast<RaftLog::Impl*>(h->data)->closed->finish(Status::ok()); });
}

struct ChangeRequest {
  struct raft_change req{};
  std::shared_ptr<Waiter> waiter;
};

void on_changed(struct raft_change* req, int status) {
  std::unique_ptr<ChangeRequest> r(static_cast<ChangeRequest*>(req->data));
  r->waiter->finish(status == 0 ? Status::ok()
                                : make_error(ErrorCode::kUnavailable, std::string("membership change: ") + raft_strerror(status)));
}

}  // namespace

void RaftLog::Impl::on_tick() {
  RaftLog& o = *owner;
  if (stopping || !started) return;
  o.fsm_->advance(raft.last_applied);
  raft_id id = 0;
  const char* addr = nullptr;
  raft_leader(&raft, &id, &addr);
  o.leader_.store(id);
  o.term_->set(static_cast<int64_t>(raft.current_term));
  bool leading = raft.state == RAFT_LEADER;
  o.is_leader_->set(leading ? 1 : 0);
  // Replication lag of every other member, as the leader sees it (0 elsewhere).
  raft_index last = raft_last_index(&raft);
  for (unsigned i = 0; i < raft.configuration.n; ++i) {
    uint64_t id = raft.configuration.servers[i].id;
    if (id == o.opts_.node_id) continue;
    Gauge*& g = o.lag_[id];
    if (!g)
      g = MetricsRegistry::global().gauge("kiseki_raft_replication_lag_entries",
                                          "Entries a member's log lacks behind the leader's (on the leader)",
                                          {{"shard", std::to_string(o.opts_.shard)}, {"node", std::to_string(id)}});
    g->set(leading ? static_cast<int64_t>(last - std::min(last, raft.leader_state.progress[i].match_index)) : 0);
  }
  if (!leading) {
    leader_ready = false;
  }
  publish_lead();
  if (leading && !leader_ready && !barrier_pending) {
    // libraft 0.15 commits entries of older terms only once an entry of the
    // current term commits: a barrier of this term does that before this
    // leader answers reads.
    barrier.data = this;
    if (raft_barrier(&raft, &barrier, on_barrier) == 0) barrier_pending = true;
  }
}

Result<std::unique_ptr<RaftLog>> RaftLog::open(RaftHost* host, meta::Store* store, log::StateMachine* sm,
                                               const log::LogOptions& log_opts, const RaftLogOptions& opts) {
  std::unique_ptr<RaftLog> self(new RaftLog());
  self->host_ = host;
  self->opts_ = opts;
  KISEKI_TRY(make_dirs(opts.dir));
  ShardFsmOptions fo;
  fo.shard = opts.shard;
  fo.node_id = opts.node_id;
  fo.dir = opts.dir;
  fo.fetch_checkpoint = opts.fetch_checkpoint;
  self->fsm_ = std::make_unique<ShardFsm>(store, sm, log_opts, fo);
  auto& m = MetricsRegistry::global();
  Labels shard{{"shard", std::to_string(opts.shard)}};
  self->forwarded_ = m.counter("kiseki_raft_forwarded_total", "Records forwarded to the shard leader", shard);
  self->term_ = m.gauge("kiseki_raft_term", "Current Raft term of the shard", shard);
  self->is_leader_ = m.gauge("kiseki_raft_leader", "1 while this node leads the shard", shard);

  self->impl_ = std::make_unique<Impl>();
  Impl& im = *self->impl_;
  im.owner = self.get();
  Status st;
  bool io_open = false;
  host->run([&] {
    uv_loop_t* loop = host->loop();
    host->hub()->make_transport(&im.transport, opts.shard);
    if (int rv = raft_uv_init(&im.io, loop, opts.dir.c_str(), &im.transport); rv != 0) {
      st = raft_error(rv, "raft I/O in " + opts.dir);
      return;
    }
    io_open = true;
    // Entries that a torn write left damaged are an error to look at, not to
    // drop silently (they may be acknowledged ones).
    raft_uv_set_auto_recovery(&im.io, false);
    im.raft.data = &im;
    if (int rv = raft_init(&im.raft, &im.io, self->fsm_->fsm(), opts.node_id, opts.address.c_str()); rv != 0) {
      st = raft_error(rv, "raft init");
      return;
    }
    self->fsm_->attach(&im.raft);
    raft_set_election_timeout(&im.raft, opts.election_timeout_ms);
    raft_set_heartbeat_timeout(&im.raft, opts.heartbeat_ms);
    raft_set_snapshot_threshold(&im.raft, opts.snapshot_threshold);
    raft_set_snapshot_trailing(&im.raft, opts.snapshot_trailing);
    raft_set_pre_vote(&im.raft, true);
    if (!opts.initial.empty()) {
      raft_configuration conf;
      raft_configuration_init(&conf);
      for (const auto& mbr : opts.initial) raft_configuration_add(&conf, mbr.id, mbr.address.c_str(), RAFT_VOTER);
      int rv = raft_bootstrap(&im.raft, &conf);
      raft_configuration_close(&conf);
      if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
        st = raft_error(rv, "raft bootstrap");
        return;
      }
    }
    if (int rv = raft_start(&im.raft); rv != 0) {
      st = raft_error(rv, "raft start");
      return;
    }
    im.started = true;
    im.tick.data = &im;
    uv_timer_init(loop, &im.tick);
    uv_timer_start(&im.tick, on_tick_cb, 10, 10);
  });
  if (!st.is_ok()) {
    // raft_init failed or the group never started: release what was made.
    if (im.started || im.raft.io) {
      self.reset();  // the destructor closes the group
    } else if (io_open) {
      host->run([&] { raft_uv_close(&im.io); });
    }
    return st;
  }
  KLOG_INFO("shard {}: Raft node {} on {} (applied index {})", opts.shard, opts.node_id, opts.address,
            self->fsm_->applied());
  return self;
}

RaftLog::~RaftLog() {
  if (!impl_ || !host_) return;
  impl_->closed = std::make_shared<Waiter>();
  bool closing = false;
  host_->run([&] {
    Impl& im = *impl_;
    im.stopping = true;
    if (!im.raft.io) return;
    if (im.started) uv_timer_stop(&im.tick);
    else {
      // Never started: the tick timer was not made; close the io by hand.
      im.tick.data = &im;
      uv_timer_init(host_->loop(), &im.tick);
    }
    closing = true;
    raft_close(&im.raft, on_raft_closed);
  });
  if (closing) impl_->closed->wait();
}

void RaftLog::run_on_loop(std::function<void()> fn) { host_->run(std::move(fn)); }

std::shared_ptr<Waiter> RaftLog::as_leader(std::function<void(struct raft*, const std::shared_ptr<Waiter>&)> fn) {
  auto w = std::make_shared<Waiter>();
  host_->post([this, w, fn = std::move(fn)] {
    Impl& im = *impl_;
    if (im.stopping || im.raft.state != RAFT_LEADER) return w->finish(make_error(ErrorCode::kUnavailable, "not leader"));
    fn(&im.raft, w);
  });
  w->wait();
  return w;
}

Status RaftLog::change(const char* what, std::function<int(struct raft*, struct raft_change*)> start) {
  return as_leader([what, &start](struct raft* r, const std::shared_ptr<Waiter>& w) {
    auto* req = new ChangeRequest;
    req->waiter = w;
    req->req.data = req;
    int rv = start(r, &req->req);
    if (rv == 0) return;
    delete req;
    // Not leader, or another change still in progress: the caller tries again.
    w->finish(make_error(rv == RAFT_NOTLEADER || rv == RAFT_CANTCHANGE ? ErrorCode::kUnavailable : ErrorCode::kConflict,
                         std::string(what) + ": " + raft_strerror(rv)));
  })->status;
}

Status RaftLog::add_member(uint64_t id, const std::string& address) {
  return change("add", [id, address](struct raft* r, struct raft_change* c) {
    return raft_add(r, c, id, address.c_str(), on_changed);
  });
}

Status RaftLog::assign(uint64_t id, RaftRole role) {
  int r = role == RaftRole::kVoter ? RAFT_VOTER : role == RaftRole::kStandby ? RAFT_STANDBY : RAFT_SPARE;
  return change("assign", [id, r](struct raft* raft, struct raft_change* c) { return raft_assign(raft, c, id, r, on_changed); });
}

Status RaftLog::remove_member(uint64_t id) {
  return change("remove", [id](struct raft* r, struct raft_change* c) { return raft_remove(r, c, id, on_changed); });
}

Status RaftLog::transfer(uint64_t id) {
  struct TransferRequest {
    struct raft_transfer req{};
    std::shared_ptr<Waiter> waiter;
  };
  auto w = as_leader([id](struct raft* r, const std::shared_ptr<Waiter>& w) {
    auto* req = new TransferRequest;
    req->waiter = w;
    req->req.data = req;
    int rv = raft_transfer(r, &req->req, id, [](struct raft_transfer* t) {
      std::unique_ptr<TransferRequest> r(static_cast<TransferRequest*>(t->data));
      r->waiter->finish(Status::ok());
    });
    if (rv == 0) return;
    delete req;
    w->finish(make_error(ErrorCode::kConflict, std::string("transfer: ") + raft_strerror(rv)));
  });
  KISEKI_TRY(w->status);
  // The callback fires on success and after an election timeout without one.
  return leader_.load() == opts_.node_id ? make_error(ErrorCode::kUnavailable, "leadership did not move")
                                         : Status::ok();
}

const char* role_name(RaftRole r) {
  switch (r) {
    case RaftRole::kVoter: return "voter";
    case RaftRole::kStandby: return "standby";
    default: return "spare";
  }
}

Result<Committed> RaftLog::propose(std::string_view record, uint64_t* leader) {
  auto w = as_leader([record](struct raft* r, const std::shared_ptr<Waiter>& w) {
    auto* req = new ApplyRequest;
    req->waiter = w;
    req->req.data = req;
    raft_buffer buf;
    buf.len = raft_entry_size(record.size());
    buf.base = raft_malloc(buf.len);
    encode_raft_entry(record, static_cast<char*>(buf.base));
    int rv = raft_apply(r, &req->req, &buf, 1, on_applied);
    if (rv == 0) return;
    raft_free(buf.base);
    delete req;
    w->finish(make_error(ErrorCode::kUnavailable, std::string("not proposed: ") + raft_strerror(rv)));
  });
  if (leader) *leader = leader_.load();
  if (!w->status.is_ok()) return w->status;
  return std::move(w->committed);
}

Result<std::string> RaftLog::submit(std::string_view record, bool /*durable*/, bool /*refs_synced*/) {
  auto deadline = Clock::now() + opts_.submit_timeout;
  auto backoff = std::chrono::milliseconds(10);
  Status last = make_error(ErrorCode::kUnavailable, "no leader");
  for (;;) {
    KISEKI_TRY(fsm_->fault());
    uint64_t leader = 0;
    auto remaining = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    };
    Result<Committed> c = propose(record, &leader);
    if (!c && leader != 0 && leader != opts_.node_id && opts_.forward) {
      forwarded_->inc();
      c = opts_.forward(leader, record, std::max(remaining(), std::chrono::milliseconds(1)));
    }
    if (c) {
      KISEKI_TRY(wait_applied(c->index, std::max(remaining(), std::chrono::milliseconds(1000))));
      if (!c->status.is_ok()) return c->status;
      return std::move(c->out);
    }
    // Elections, a leader change, a leader unreachable: try again (the
    // record's request id makes a second apply answer the first result).
    ErrorCode code = c.code();
    if (code != ErrorCode::kUnavailable && code != ErrorCode::kTimeout) return c.status();
    last = c.status();
    if (Clock::now() + backoff > deadline)
      return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(opts_.shard) +
                                                     ": no leader committed the write in time (" + last.message() + ")");
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

Status RaftLog::sync() {
  // Committed entries are durable on a majority; a barrier through the leader
  // makes sure everything submitted here before is committed and applied.
  return read_barrier();
}

Result<uint64_t> RaftLog::confirm_round() {
  LeadView v;
  {
    std::lock_guard lock(lead_mu_);
    v = lead_;
  }
  if (!v.ready) return make_error(ErrorCode::kUnavailable, "not leader");
  // Every write acknowledged anywhere before this round began was applied on
  // this leader before it was acknowledged (forwarded ones too): its applied
  // index now is an index the read must see. (The view may be a few
  // milliseconds old; a leader deposed meanwhile gets no confirmation below.)
  uint64_t index = fsm_->applied();
  // A majority of voters, this node among them, still follow it in its term:
  // no other leader can have committed anything before this round began.
  size_t need = v.voters / 2, yes = 0;
  for (uint64_t p : v.peers) {
    if (yes >= need) break;
    if (!opts_.confirm) break;
    auto r = opts_.confirm(p, v.term, std::chrono::milliseconds(opts_.election_timeout_ms));
    if (r && *r) ++yes;
  }
  if (yes < need) return make_error(ErrorCode::kUnavailable, "leadership not confirmed by a majority");
  return index;
}

Result<uint64_t> RaftLog::leader_read_index(uint64_t* leader) {
  Result<uint64_t> out = confirm_rounds_.run([this] { return confirm_round(); });
  if (leader) *leader = leader_.load();
  return out;
}

bool RaftLog::follows(uint64_t leader, uint64_t term) {
  bool yes = false;
  run_on_loop([&] {
    raft_id id = 0;
    const char* addr = nullptr;
    raft_leader(&impl_->raft, &id, &addr);
    yes = id == leader && impl_->raft.current_term == term;
  });
  return yes;
}

Status RaftLog::read_barrier() {
  auto deadline = Clock::now() + opts_.submit_timeout;
  auto backoff = std::chrono::milliseconds(10);
  for (;;) {
    uint64_t leader = leader_.load();
    Result<uint64_t> idx = make_error(ErrorCode::kUnavailable, "no leader");
    if (leader == opts_.node_id) {
      idx = leader_read_index(&leader);
    } else if (leader != 0 && opts_.read_index) {
      // Concurrent readers on a follower share one call to the leader too.
      idx = index_rounds_.run([&] {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return opts_.read_index(leader, std::max(left, std::chrono::milliseconds(1)));
      });
    }
    if (idx) return wait_applied(*idx, std::chrono::milliseconds(5000));
    if (idx.code() != ErrorCode::kUnavailable && idx.code() != ErrorCode::kTimeout) return idx.status();
    if (Clock::now() + backoff > deadline)
      return make_error(ErrorCode::kUnavailable, "shard " + std::to_string(opts_.shard) + ": no leader answered in time");
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

uint64_t RaftLog::applied_index() const { return fsm_->applied(); }

Status RaftLog::fault() const { return fsm_->fault(); }

RaftShardStatus RaftLog::read_status() {
  RaftShardStatus s;
  s.shard = opts_.shard;
  Impl& im = *impl_;
  raft_id id = 0;
  const char* addr = nullptr;
  raft_leader(&im.raft, &id, &addr);
  s.leader = id;
  s.term = im.raft.current_term;
  s.commit_index = im.raft.commit_index;
  s.last_index = raft_last_index(&im.raft);
  switch (im.raft.state) {
    case RAFT_LEADER: s.role = "leader"; break;
    case RAFT_FOLLOWER: s.role = "follower"; break;
    case RAFT_CANDIDATE: s.role = "candidate"; break;
    default: s.role = "unavailable";
  }
  s.snapshot_index = im.raft.log.snapshot.last_index;
  for (unsigned i = 0; i < im.raft.configuration.n; ++i) {
    const auto& srv = im.raft.configuration.servers[i];
    RaftMember mbr{srv.id, srv.address ? srv.address : ""};
    mbr.role = srv.role == RAFT_VOTER ? RaftRole::kVoter : srv.role == RAFT_STANDBY ? RaftRole::kStandby : RaftRole::kSpare;
    s.members.push_back(std::move(mbr));
    if (im.raft.state == RAFT_LEADER)
      s.match.emplace_back(srv.id, srv.id == opts_.node_id ? s.last_index : im.raft.leader_state.progress[i].match_index);
  }
  std::lock_guard lock(status_mu_);
  last_status_ = s;
  return s;
}

RaftShardStatus RaftLog::status() {
  RaftShardStatus s;
  run_on_loop([&] { s = read_status(); });
  s.applied_index = applied_index();
  return s;
}

RaftShardStatus RaftLog::status_within(std::chrono::milliseconds wait) {
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    RaftShardStatus s;
  };
  auto p = std::make_shared<Pending>();
  // The task may run after this call gave up; it owns what it writes. The log
  // outlives it: the destructor's own task runs after it on the same loop.
  host_->post([this, p] {
    RaftShardStatus s = read_status();
    std::lock_guard lock(p->mu);
    p->s = std::move(s);
    p->done = true;
    p->cv.notify_all();
  });
  RaftShardStatus s;
  bool answered;
  {
    std::unique_lock lock(p->mu);
    answered = p->cv.wait_for(lock, wait, [&] { return p->done; });
    if (answered) s = std::move(p->s);
  }
  if (!answered) {
    std::lock_guard lock(status_mu_);
    s = last_status_;
    s.shard = opts_.shard;
    s.busy = true;
  }
  s.applied_index = applied_index();
  return s;
}

}  // namespace kiseki::cluster
