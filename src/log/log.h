// What the Gateway submits delta records through: the local delta log on one
// node (delta_log.h), a shard's Raft log in a cluster (cluster/raft_log.h).
// Either way a record is applied by the same StateMachine, and submit answers
// once the record is as durable as the configuration promises.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/durability.h"
#include "log/state_machine.h"

namespace rocksdb {
class WriteBatch;
}

namespace kiseki::log {

struct LogOptions {
  Durability durability = Durability::kSync;
  uint32_t group_commit_ms = 5;
  size_t max_group = 256;  // records per group commit
  // Makes durable whatever records reference outside the store (chunk bytes)
  // before a WAL sync makes the records durable: run before every WAL sync
  // (write order). Under kSync a durable record's submitter has made its own
  // references durable before submitting, so this covers only what
  // non-durable records left; under kGroup it covers everything. It must
  // cover every chunk appended before the round began: a record that relies on
  // it and was queued after the round began is not written until the round's
  // WAL sync has ended (else that sync could make it durable while its chunks
  // are not).
  std::function<Status()> before_commit;
  // Makes durable every chunk appended so far (under kSync). A record submitted
  // with refs_synced = false is written only after a before_write that began
  // after its submit has ended; one call covers every such record waiting, and
  // it runs outside the leader's turn (write order without holding up others).
  std::function<Status()> before_write;
  // Sees every record in apply order, before it is applied (tests that replay a
  // stream of records elsewhere).
  std::function<void(std::string_view record)> on_apply;
  // This node's own writes (chunk locations) join each group's batch, named by
  // the group's last applied index; local_done says whether it was written.
  std::function<void(rocksdb::WriteBatch* batch, uint64_t group)> add_local;
  std::function<void(uint64_t group, bool written)> local_done;
  // The store's replicated state was replaced wholesale (a cluster node
  // installed a Raft snapshot): whatever was derived from it (caches, the keys
  // of tenants shredded meanwhile) is derived again.
  std::function<void()> on_reset;
};

// Makes a record's bytes; an error fails that record alone.
using RecordFinisher = std::function<Status(std::string* record)>;

class Log {
 public:
  virtual ~Log() = default;
  // Applies and commits `record`; returns the state machine's output. Once it
  // returns, this node's store shows the record (and everything before it).
  // `durable = false`: durable only after a later sync (NFS UNSTABLE writes).
  // `refs_synced = false`: the chunks the record references were appended but
  // not synced; the log syncs them (before_write) before it writes the record.
  // A log without before_write takes it as synced.
  virtual Result<std::string> submit(std::string_view record, bool durable = true, bool refs_synced = true) = 0;
  // submit() of the record `finish` makes, made as late as the log can: the
  // local log runs it in the leader's turn, after the chunks' sync, so that
  // what it waits for (a PUT's ETag MD5) is done for the whole group at once.
  // Other logs run it first.
  virtual Result<std::string> submit_finished(const RecordFinisher& finish, bool durable = true,
                                              bool refs_synced = true) {
    std::string record;
    KISEKI_TRY(finish(&record));
    return submit(record, durable, refs_synced);
  }
  // Makes every record submitted so far durable.
  virtual Status sync() = 0;
  // Waits until this node's store shows every record committed anywhere before
  // the call (a linearizable read may follow); at once on a single node.
  virtual Status read_barrier() { return Status::ok(); }
  // Whether this node leads the log's group now (a local log: always).
  virtual bool leads() const { return true; }
  virtual uint64_t applied_index() const = 0;
  // The failure that stopped this log taking records; ok while none.
  virtual Status fault() const = 0;
};

}  // namespace kiseki::log
