// The S3 endpoint: accepts TCP connections and serves HTTP/1.1 on each, one
// thread per connection (docs/adr/0004). Keep-alive, Expect: 100-continue,
// streaming request and response bodies, header/idle timeouts, bounded memory.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/connection_tracker.h"
#include "common/tls.h"
#include "protocols/s3/handler.h"

namespace kiseki::s3 {

struct S3ServerOptions {
  std::string listen = "127.0.0.1:9000";
  S3Options s3;
  size_t max_connections = 1024;
  int idle_timeout_s = 60;       // between requests on a keep-alive connection
  int io_timeout_s = 30;         // any single read or write once a request started
  size_t max_header_bytes = 16 << 10;
  std::shared_ptr<TlsConfig> tls;  // set: HTTPS only
};

class S3Server {
 public:
  static Result<std::unique_ptr<S3Server>> start(gateway::Gateway* gw, const S3ServerOptions& opts);
  ~S3Server();
  uint16_t port() const { return port_; }
  // Stops accepting, closes every connection and waits for their threads.
  void stop();

 private:
  S3Server(gateway::Gateway* gw, const S3ServerOptions& opts) : handler_(gw, opts.s3), gw_(gw), opts_(opts) {}
  void accept_loop();
  void serve(int fd);

  S3Handler handler_;
  gateway::Gateway* gw_;
  S3ServerOptions opts_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<ConnectionTracker> conns_;
};

}  // namespace kiseki::s3
