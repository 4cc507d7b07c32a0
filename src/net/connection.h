// One TCP connection to a native server (TLS when given a context: the bytes
// then go through a tunnel, net/tls_tunnel.h): requests from many threads at once,
// each matched to its answer by request id (answers come in any order), each
// waiting at most its deadline. A broken connection fails every call waiting
// on it with kUnavailable; the owner (the native client, the cluster fabric)
// makes a new one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <openssl/ssl.h>

#include "common/status.h"

namespace kiseki::net {

class Connection {
 public:
  // `tls`: the client context (its CA and verification set); null for plain TCP.
  static Result<std::unique_ptr<Connection>> open(const std::string& host_port, std::chrono::milliseconds timeout,
                                                  SSL_CTX* tls = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one request and waits for its answer's payload; an error answer is
  // the server's status and message. kTimeout past `deadline` (the answer, if
  // it comes, is dropped); kUnavailable if the connection breaks first.
  Result<std::string> call(uint16_t opcode, std::string_view payload, std::chrono::milliseconds deadline);
  bool broken() const;

 private:
  struct Pending;
  explicit Connection(int fd);
  void read_loop();
  void fail_all(const Status& why);

  int fd_;
  std::thread pump_;  // TLS only: owns the TLS socket, ends when fd_ is shut down
  std::thread reader_;
  std::mutex write_mu_;  // one frame on the wire at a time
  mutable std::mutex mu_;  // guards the rest
  uint64_t next_id_ = 1;
  bool broken_ = false;
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending_;
};

}  // namespace kiseki::net
