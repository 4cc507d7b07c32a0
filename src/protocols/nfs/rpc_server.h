// ONC RPC over TCP: the dispatcher turns one record into one reply (programs,
// versions, authentication, duplicate request cache), and the server runs it
// for many connections. Each connection has a reader thread; calls run on a
// shared pool of workers and are answered as they finish, out of order, with a
// bound on the calls in flight per connection. A lone call (a client waiting
// for each reply) runs on the reader thread itself, with no hand-off, unless it
// may wait on the disk while the client is already sending more.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/connection_tracker.h"
#include "common/metrics.h"
#include "protocols/nfs/drc.h"
#include "protocols/nfs/rpc_program.h"

namespace kiseki::nfs {

class RpcDispatcher {
 public:
  void add(RpcProgram* p) { programs_[p->program()] = p; }
  // The framed reply (record mark included) to one record, or nullopt when RFC
  // 5531 gives no reply (an unparsable message, a REPLY, a resend in progress).
  std::optional<std::string> handle(std::string_view record, const ClientInfo& client);
  // Whether the call in `record` may wait on the disk (see RpcProgram::may_block);
  // false for what does not parse (it is answered at once).
  bool may_block(std::string_view record) const;

 private:
  std::map<uint32_t, RpcProgram*> programs_;
  DuplicateRequestCache drc_;
};

struct RpcServerOptions {
  std::string listen = "127.0.0.1:2049";
  size_t workers = 16;
  size_t max_inflight_per_connection = 128;
  size_t max_connections = 1024;
  std::string name = "nfs";  // in logs and metrics
};

class RpcServer {
 public:
  static Result<std::unique_ptr<RpcServer>> start(RpcDispatcher* dispatcher, const RpcServerOptions& opts);
  ~RpcServer();
  uint16_t port() const { return port_; }
  void stop();

 private:
  struct Conn;
  struct Task {
    std::shared_ptr<Conn> conn;
    std::string record;
  };
  RpcServer(RpcDispatcher* d, const RpcServerOptions& o) : dispatcher_(d), opts_(o) {}
  void accept_loop();
  void read_loop(std::shared_ptr<Conn> conn);
  void worker_loop();
  void run_call(const std::shared_ptr<Conn>& conn, std::string_view record);

  RpcDispatcher* dispatcher_;
  RpcServerOptions opts_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};

  std::unique_ptr<ConnectionTracker> conns_;
  std::mutex mu_;  // guards tasks_, stop_workers_
  std::condition_variable task_cv_;
  std::deque<Task> tasks_;
  bool stop_workers_ = false;
};

}  // namespace kiseki::nfs
