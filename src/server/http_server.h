// A small HTTP/1.1 server on Boost.Beast with C++20 coroutines: keep-alive,
// header and idle timeouts, bounded request bodies, optional TLS. The admin API
// runs on it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <string>

#include "common/host_port.h"
#include "common/tls.h"
#include "common/status.h"

namespace kiseki::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:9090";
  size_t max_body_bytes = 1 << 20;
  int request_timeout_s = 10;  // a whole request, from the end of the last reply (idle included)
  int write_timeout_s = 10;
  size_t max_connections = 16384;
  size_t max_connections_per_client = 256;
  std::shared_ptr<TlsConfig> tls;  // set: HTTPS only
};

class HttpServer {
 public:
  // Binds at once (so the caller learns of a port in use); serves once run.
  static Result<std::unique_ptr<HttpServer>> bind(boost::asio::io_context& io,
                                                  const HttpServerOptions& opts, Handler handler);
  ~HttpServer();
  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiseki::server
