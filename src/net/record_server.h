// A server of framed records over TCP, for the protocols whose messages are
// whole records (ONC RPC for NFS, the native frame): connections wait in a
// reactor (common/reactor.h) while they are idle or send a record slowly; one
// with whole records gets a reader thread from a bounded pool while it keeps
// sending, and goes back to the reactor when it pauses. Records run on a shared
// pool of workers and are answered as they finish, out of order, with a bound
// on the records in flight per connection. A lone record (a client waiting for
// each reply) runs on the reader thread itself, with no hand-off, unless it may
// wait on the disk while the client is already sending more. Bytes of records
// not complete yet count against one budget for the whole process, so memory
// stays bounded before any caller is authenticated.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/reactor.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "common/tls.h"
#include "net/record.h"

namespace kiseki::net {

struct RecordServerOptions {
  std::string listen = "127.0.0.1:2049";
  size_t workers = 16;
  size_t max_readers = 256;  // connections read at once (the others wait in the reactor)
  size_t max_inflight_per_connection = 128;
  size_t max_connections = 16384;
  size_t max_connections_per_client = 512;
  int record_timeout_s = 30;   // a record, once begun, must be in within this
  int idle_timeout_s = 900;    // a connection with nothing to say is closed
  std::string name = "nfs";  // in logs and metrics
  // TLS on every connection when set (net/tls_tunnel.h): the handshake on a
  // thread of its own, then the records through a tunnel.
  std::shared_ptr<TlsConfig> tls;
};

// Memory for partial records the whole process holds at most (all record
// servers); a connection that would go past it is closed.
constexpr size_t kPartialRecordBudget = 128 << 20;

class RecordServer {
 public:
  static Result<std::unique_ptr<RecordServer>> start(RecordService* service, const RecordServerOptions& opts);
  ~RecordServer();
  uint16_t port() const { return port_; }
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn;
  struct Task {
    std::shared_ptr<Conn> conn;
    std::string record;
    Clock::time_point queued;
  };
  RecordServer(RecordService* s, const RecordServerOptions& o) : service_(s), opts_(o), readers_(o.max_readers) {}
  void accepted(int fd, uint32_t ip, uint16_t port);
  // A TLS connection: handshake, then accepted() with the tunnel's plain end.
  void accept_tls(int fd, uint32_t ip, uint16_t port);
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
  void run_call(const std::shared_ptr<Conn>& conn, std::string_view record, Clock::time_point queued);

  RecordService* service_;
  RecordServerOptions opts_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Reactor> reactor_;
  ThreadPool readers_;
  std::mutex conns_mu_;  // guards conns_
  std::unordered_map<int, std::shared_ptr<Conn>> conns_;

  std::mutex tls_mu_;  // guards handshaking_
  std::condition_variable tls_cv_;
  std::unordered_map<int, uint32_t> handshaking_;  // TLS socket → client address

  std::mutex mu_;  // guards tasks_, stop_workers_
  std::condition_variable task_cv_;
  std::deque<Task> tasks_;
  bool stop_workers_ = false;
};

}  // namespace kiseki::net
