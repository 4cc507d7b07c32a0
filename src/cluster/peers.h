// The client side of the fabric: one authenticated, multiplexed connection per
// peer node (net/connection.h), dialled on first use and again after it
// breaks; every call has a deadline.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/fabric.h"
#include "cluster/fault_switch.h"
#include "common/metrics.h"
#include "net/connection.h"

namespace kiseki::cluster {

class Peers {
 public:
  // `addresses`: node id → fabric address ("host:port"), this node's included.
  Peers(uint64_t self, crypto::SecretKey key, std::map<uint64_t, std::string> addresses,
        const FaultSwitch* faults = nullptr);

  // One call to `node`; kUnavailable if it cannot be reached (or does not
  // prove the cluster secret), kTimeout past `deadline`.
  Result<std::string> call(uint64_t node, FabricOp op, std::string_view payload, std::chrono::milliseconds deadline);
  // One call to whichever node listens at `address` (a node this one does not
  // know yet: --join), on a connection of its own.
  Result<std::string> call_at(const std::string& address, FabricOp op, std::string_view payload,
                              std::chrono::milliseconds deadline);
  // Where `node` listens (a node that joined, or moved); its connection is redialled.
  void set_address(uint64_t node, const std::string& address);
  uint64_t self() const { return self_; }

 private:
  Result<std::shared_ptr<net::Connection>> connection(uint64_t node);
  // Dials and authenticates; `node` 0 takes whichever node answers.
  Result<std::shared_ptr<net::Connection>> dial(const std::string& address, uint64_t node);

  uint64_t self_;
  crypto::SecretKey key_;
  const FaultSwitch* faults_;
  std::mutex mu_;  // guards addresses_, conns_, down_until_
  std::map<uint64_t, std::string> addresses_;
  std::map<uint64_t, std::shared_ptr<net::Connection>> conns_;
  // A node that could not be dialled is not dialled again before this (calls
  // to it fail at once meanwhile: a dead node costs no caller a connect timeout).
  std::map<uint64_t, std::chrono::steady_clock::time_point> down_until_;
  Histogram* latency_;
  std::mutex op_mu_;  // guards op_latency_
  std::map<uint16_t, Histogram*> op_latency_;  // kiseki_fabric_call_seconds{op}
  Counter* failures_;
};

}  // namespace kiseki::cluster
