// ONC RPC over TCP: the dispatcher turns one record into one reply (programs,
// versions, authentication, duplicate request cache), and the server runs it
// for many connections. Connections wait in a reactor (common/reactor.h) while
// they are idle or send a record slowly; one with whole records gets a reader
// thread from a bounded pool while it keeps sending, and goes back to the
// reactor when it pauses. Calls run on a shared pool of workers and are
// answered as they finish, out of order, with a bound on the calls in flight
// per connection. A lone call (a client waiting for each reply) runs on the
// reader thread itself, with no hand-off, unless it may wait on the disk while
// the client is already sending more. Bytes of records not complete yet count
// against one budget for the whole process, so memory stays bounded before any
// call is authenticated.
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
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/reactor.h"
#include "common/thread_pool.h"
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
  size_t max_readers = 256;  // connections read at once (the others wait in the reactor)
  size_t max_inflight_per_connection = 128;
  size_t max_connections = 16384;
  size_t max_connections_per_client = 512;
  int record_timeout_s = 30;   // a record, once begun, must be in within this
  int idle_timeout_s = 900;    // a connection with nothing to say is closed
  std::string name = "nfs";  // in logs and metrics
};

// Memory for partial records the whole process holds at most (all RPC servers);
// a connection that would go past it is closed.
constexpr size_t kPartialRecordBudget = 128 << 20;

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
  RpcServer(RpcDispatcher* d, const RpcServerOptions& o) : dispatcher_(d), opts_(o), readers_(o.max_readers) {}
  void accepted(int fd, uint32_t ip, uint16_t port);
  // The reactor's call: takes what `conn` sent; whole records get it a reader.
  void on_readable(const std::shared_ptr<Conn>& conn);
  // Reads and runs records while they come back to back (a reader thread).
  void read_burst(const std::shared_ptr<Conn>& conn);
  // Feeds bytes to the connection's record reader within the budget; false:
  // close the connection.
  bool feed(Conn& conn, std::string_view bytes);
  // Runs or queues every whole record; false if the server is stopping.
  bool run_records(const std::shared_ptr<Conn>& conn);
  void park(const std::shared_ptr<Conn>& conn);
  void close_conn(const std::shared_ptr<Conn>& conn);
  std::shared_ptr<Conn> find(int fd);
  void worker_loop();
  void run_call(const std::shared_ptr<Conn>& conn, std::string_view record);

  RpcDispatcher* dispatcher_;
  RpcServerOptions opts_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Reactor> reactor_;
  ThreadPool readers_;
  std::mutex conns_mu_;  // guards conns_
  std::unordered_map<int, std::shared_ptr<Conn>> conns_;

  std::mutex mu_;  // guards tasks_, stop_workers_
  std::condition_variable task_cv_;
  std::deque<Task> tasks_;
  bool stop_workers_ = false;
};

}  // namespace kiseki::nfs
