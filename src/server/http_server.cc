#include "server/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "common/client_limits.h"
#include "common/logging.h"

namespace kiseki::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  asio::io_context& io;
  HttpServerOptions opts;
  Handler handler;
  tcp::acceptor acceptor;

  ClientLimits limits;

  Impl(asio::io_context& io_, HttpServerOptions o, Handler h)
      : io(io_), opts(std::move(o)), handler(std::move(h)), acceptor(io_),
        limits(opts.max_connections, opts.max_connections_per_client) {}

  asio::awaitable<void> serve(tcp::socket sock, uint32_t ip) {
    co_await serve_counted(std::move(sock));
    limits.release(ip);
  }

  asio::awaitable<void> serve_counted(tcp::socket sock) {
    if (!opts.tls) {
      beast::tcp_stream stream(std::move(sock));
      co_await session(stream);
      beast::error_code ignore;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
      co_return;
    }
    auto ctx = opts.tls->context();  // kept for the connection's life
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), *ctx);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(opts.request_timeout_s));
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    co_await session(stream);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 << 10);
      parser.body_limit(opts.max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(opts.request_timeout_s));
      auto [ec, n] = co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec) {
        if (ec == http::error::body_limit || ec == http::error::header_limit) {
          Response r{http::status::payload_too_large, 11};
          r.set(http::field::content_type, "application/json");
          r.body() = R"({"error":"InvalidArgument","message":"request too large"})";
          r.prepare_payload();
          r.keep_alive(false);
          co_await http::async_write(stream, r, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      Request req = parser.release();
      Response res;
      try {
        res = handler(req);
      } catch (const std::exception& e) {
        KLOG_ERROR("admin handler threw: {}", e.what());
        res = Response{http::status::internal_server_error, req.version()};
        res.body() = R"({"error":"IoError","message":"internal error"})";
      }
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(opts.write_timeout_s));
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive()) break;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      beast::error_code pec;
      auto peer = sock.remote_endpoint(pec);
      uint32_t ip = !pec && peer.address().is_v4() ? peer.address().to_v4().to_uint() : 0;
      if (!limits.admit(ip)) continue;  // the socket closes as it goes
      asio::co_spawn(io, serve(std::move(sock), ip), asio::detached);
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::bind(asio::io_context& io, const HttpServerOptions& opts,
                                                     Handler handler) {
  KISEKI_ASSIGN_OR_RETURN(auto hp, kiseki::parse_host_port(opts.listen));
  auto impl = std::make_unique<Impl>(io, opts, std::move(handler));
  beast::error_code ec;
  auto addr = asio::ip::make_address(hp.first == "localhost" ? "127.0.0.1" : hp.first, ec);
  if (ec) return invalid_argument("bad listen address " + opts.listen);
  tcp::endpoint ep(addr, hp.second);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "listen on " + opts.listen + ": " + ec.message());
  asio::co_spawn(io, impl->accept_loop(), asio::detached);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::stop() {
  if (impl_ && impl_->acceptor.is_open()) {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  }
}

}  // namespace kiseki::server
