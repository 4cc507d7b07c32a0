// The server side of the fabric: native frames on --cluster-listen, answered
// for authenticated nodes only (fabric.h), dispatched to a FabricHandler.
#pragma once

#include <memory>
#include <mutex>

#include "cluster/fabric.h"
#include "cluster/fault_switch.h"
#include "net/record.h"

namespace kiseki::cluster {

struct FabricSession : net::Session {
  std::mutex mu;  // guards the rest
  std::string client_nonce, server_nonce;
  uint64_t claimed = 0;  // the node id its kHello named
  uint64_t node = 0;     // set once kAuth proved it
};

class FabricService final : public net::RecordService {
 public:
  FabricService(uint64_t node_id, crypto::SecretKey key, FabricHandler* handler,
                const FaultSwitch* faults = nullptr)
      : node_id_(node_id), key_(key), handler_(handler), faults_(faults) {}
  std::unique_ptr<net::RecordReader> reader() const override;
  std::unique_ptr<net::Session> connected(const net::Peer& peer) override;
  std::optional<std::string> handle(std::string_view record, net::Session& session,
                                    std::chrono::milliseconds waited) override;
  bool may_block(std::string_view record) const override;

 private:
  Status dispatch(FabricOp op, Decoder& in, FabricSession& s, std::string* out);

  uint64_t node_id_;
  crypto::SecretKey key_;
  FabricHandler* handler_;
  const FaultSwitch* faults_;
};

}  // namespace kiseki::cluster
