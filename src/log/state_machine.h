// The state machine every log applies records with: one apply code for the
// single node and for every replica of a cluster shard.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "meta/txn.h"

namespace kiseki::log {

// What one record did: its outcome for the submitter (success, or a refusal
// such as kExists that every replica reaches alike) and an output such as an
// allocated id.
struct ApplyResult {
  Status status;
  std::string out;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one record. Must be deterministic given (store state, record). A
  // refused record leaves none of its own writes behind and says why in
  // `result`. A non-ok return is a fault of this node, not of the record (a read
  // or decode error): the log then aborts the whole group, writes nothing, and
  // every submitter in it gets that error (fail-stop: a replica never commits a
  // state it could not compute).
  virtual Status apply(std::string_view record, meta::Txn& txn, ApplyResult* result) = 0;
};

}  // namespace kiseki::log
