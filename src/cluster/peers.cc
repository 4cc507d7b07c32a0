#include "cluster/peers.h"

#include <openssl/crypto.h>

#include "common/logging.h"
#include "crypto/primitives.h"

namespace kiseki::cluster {

Peers::Peers(uint64_t self, crypto::SecretKey key, std::map<uint64_t, std::string> addresses,
             const FaultSwitch* faults)
    : self_(self), key_(key), faults_(faults), addresses_(std::move(addresses)) {
  auto& m = MetricsRegistry::global();
  latency_ = m.histogram("kiseki_fabric_call_seconds", "Latency of one fabric call to another node");
  failures_ = m.counter("kiseki_fabric_call_failures_total", "Fabric calls that failed (unreachable, timeout)");
}

Result<std::shared_ptr<net::Connection>> Peers::dial(const std::string& address, uint64_t node) {
  auto conn = net::Connection::open(address, std::chrono::milliseconds(1000));
  if (!conn) return make_error(ErrorCode::kUnavailable, address + ": " + conn.status().message());
  std::shared_ptr<net::Connection> c(std::move(*conn));
  std::string nonce(32, '\0'), hello;
  crypto::random_bytes({reinterpret_cast<uint8_t*>(nonce.data()), 32});
  Encoder(&hello).u64(self_).raw(nonce);
  KISEKI_ASSIGN_OR_RETURN(std::string answer,
                          c->call(static_cast<uint16_t>(FabricOp::kHello), hello, std::chrono::milliseconds(2000)));
  Decoder in(answer);
  uint64_t their_id = in.u64();
  std::string server_nonce(in.raw(32));
  std::string_view proof = in.raw(32);
  if (!in.ok() || (node != 0 && their_id != node) ||
      CRYPTO_memcmp(fabric_proof(key_, ProofRole::kServer, nonce, server_nonce, their_id).data(), proof.data(), 32) != 0) {
    KLOG_WARN("fabric: {} does not prove the cluster secret as node {}", address, node ? node : their_id);
    return make_error(ErrorCode::kUnavailable, address + " did not prove the cluster secret");
  }
  std::string auth = fabric_proof(key_, ProofRole::kClient, server_nonce, nonce, self_);
  KISEKI_TRY(c->call(static_cast<uint16_t>(FabricOp::kAuth), auth, std::chrono::milliseconds(2000)).status());
  return c;
}

Result<std::shared_ptr<net::Connection>> Peers::connection(uint64_t node) {
  std::string address;
  {
    std::lock_guard lock(mu_);
    auto a = addresses_.find(node);
    if (a == addresses_.end()) return make_error(ErrorCode::kUnavailable, "no address for node " + std::to_string(node));
    address = a->second;
    auto it = conns_.find(node);
    if (it != conns_.end() && !it->second->broken()) return it->second;
    auto d = down_until_.find(node);
    if (d != down_until_.end() && std::chrono::steady_clock::now() < d->second)
      return make_error(ErrorCode::kUnavailable, "node " + std::to_string(node) + " is unreachable");
  }
  auto dialled = dial(address, node);
  std::lock_guard lock(mu_);
  if (!dialled) {
    down_until_[node] = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    return dialled.status();
  }
  down_until_.erase(node);
  auto c = std::move(*dialled);
  auto& slot = conns_[node];
  if (slot && !slot->broken()) return slot;  // another caller dialled meanwhile
  slot = c;
  return c;
}

void Peers::set_address(uint64_t node, const std::string& address) {
  std::lock_guard lock(mu_);
  auto& a = addresses_[node];
  if (a == address) return;
  a = address;
  conns_.erase(node);
  down_until_.erase(node);
}

Result<std::string> Peers::call_at(const std::string& address, FabricOp op, std::string_view payload,
                                   std::chrono::milliseconds deadline) {
  KISEKI_ASSIGN_OR_RETURN(auto conn, dial(address, 0));
  return conn->call(static_cast<uint16_t>(op), payload, deadline);
}

Result<std::string> Peers::call(uint64_t node, FabricOp op, std::string_view payload,
                                std::chrono::milliseconds deadline) {
  auto t0 = std::chrono::steady_clock::now();
  if (faults_ && faults_->cut(node)) {
    failures_->inc();
    return make_error(ErrorCode::kUnavailable, "node " + std::to_string(node) + " is cut off (test faults)");
  }
  auto conn = connection(node);
  if (!conn) {
    failures_->inc();
    return conn.status();
  }
  auto r = (*conn)->call(static_cast<uint16_t>(op), payload, deadline);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  latency_->observe(secs);
  Histogram* by_op;
  {
    std::lock_guard lock(op_mu_);
    Histogram*& h = op_latency_[static_cast<uint16_t>(op)];
    if (!h)
      h = MetricsRegistry::global().histogram("kiseki_fabric_op_seconds", "Latency of fabric calls to other nodes, by op",
                                              {{"op", fabric_op_name(op)}});
    by_op = h;
  }
  by_op->observe(secs);
  if (!r && (r.code() == ErrorCode::kUnavailable || r.code() == ErrorCode::kTimeout)) failures_->inc();
  return r;
}

}  // namespace kiseki::cluster
