// The S3 endpoint: HTTP/1.1 (or HTTPS) with keep-alive, Expect: 100-continue,
// streaming request and response bodies, deadlines for headers, bodies and idle
// connections, limits per client, bounded memory (docs/adr/0004).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/reactor.h"
#include "common/thread_pool.h"
#include "common/tls.h"
#include "protocols/s3/handler.h"

namespace kiseki::s3 {

struct S3ServerOptions {
  std::string listen = "127.0.0.1:9000";
  S3Options s3;
  size_t max_connections = 16384;         // in all (and at most what the fd limit allows)
  size_t max_connections_per_client = 1024;  // per client IP address
  size_t max_workers = 256;               // threads serving requests whose header is in
  int header_timeout_s = 10;              // a whole request header, from its first byte
  int idle_timeout_s = 60;                // between requests on a keep-alive connection
  int io_timeout_s = 30;                  // no progress on a body or a reply for this long
  size_t max_header_bytes = 16 << 10;
  std::shared_ptr<TlsConfig> tls;  // set: HTTPS only
};

// Connections wait in a reactor (one epoll thread) until a request's header has
// arrived in full (TLS handshake included), so idle and slow clients cost a
// socket and a small buffer, no thread. A request is then served by a worker
// thread of a bounded pool, blocking on the Gateway, with the body streaming
// from the socket; afterwards the connection goes back to the reactor (ADR 0004).
class S3Server {
 public:
  static Result<std::unique_ptr<S3Server>> start(gateway::Gateway* gw, const S3ServerOptions& opts);
  ~S3Server();
  uint16_t port() const { return port_; }
  // Stops accepting, closes every connection and waits for the threads.
  void stop();

 private:
  struct Conn;
  S3Server(gateway::Gateway* gw, const S3ServerOptions& opts)
      : handler_(gw, opts.s3), gw_(gw), opts_(opts), pool_(opts.max_workers) {}
  void accepted(int fd, uint32_t ip);
  // The reactor's call: reads what `c` sent; a whole header hands it to a worker.
  void on_readable(const std::shared_ptr<Conn>& c);
  // Parks `c` until its next request (after a worker, keep-alive).
  void park(const std::shared_ptr<Conn>& c);
  void close_conn(const std::shared_ptr<Conn>& c);
  std::shared_ptr<Conn> find(int fd);
  // Serves requests on `c` while they come back to back; true: keep it open.
  bool serve(Conn& c);

  S3Handler handler_;
  gateway::Gateway* gw_;
  S3ServerOptions opts_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Reactor> reactor_;
  ThreadPool pool_;
  std::mutex mu_;  // guards conns_ (every open connection, by fd)
  std::unordered_map<int, std::shared_ptr<Conn>> conns_;
};

}  // namespace kiseki::s3
