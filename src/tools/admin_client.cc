#include "tools/admin_client.h"

#include <boost/asio/connect.hpp>
#include <cctype>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "protocols/s3/sigv4.h"

namespace kiseki::tools {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace ssl = boost::asio::ssl;

namespace {
std::string& admin_token() {
  static std::string t;
  return t;
}
std::string& admin_ca() {
  static std::string f;
  return f;
}

template <class Stream>
HttpReply exchange(Stream& stream, const std::string& host_port, const HttpCall& call) {
  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, host_port);
  req.set(http::field::user_agent, "kiseki-cli");
  if (call.headers.empty()) {
    if (!admin_token().empty()) req.set(http::field::authorization, "Bearer " + admin_token());
    if (!call.body.empty()) req.set(http::field::content_type, "application/json");
  }
  for (const auto& [k, v] : call.headers) req.set(k, v);
  req.body() = call.body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 32);
  if (call.method == "HEAD") parser.skip(true);
  http::read(stream, buf, parser);
  auto& res = parser.get();
  HttpReply r{static_cast<int>(res.result_int()), std::move(res.body()), {}};
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  return r;
}
}  // namespace

std::string path_segment(std::string_view s) { return s3::uri_encode(s, false); }

void set_admin_token(std::string token) { admin_token() = std::move(token); }
void set_admin_ca(std::string file) { admin_ca() = std::move(file); }

std::string host_port_of(const std::string& url) {
  return url.starts_with("https://") ? url.substr(8) : url.starts_with("http://") ? url.substr(7) : url;
}

Result<HttpReply> http_request(const std::string& url, const std::string& method,
                               const std::string& target, const std::string& body) {
  HttpCall c;
  c.method = method;
  c.target = target;
  c.body = body;
  return http_call(url, c);
}

Result<HttpReply> http_call(const std::string& url, const HttpCall& call) {
  bool tls = url.starts_with("https://");
  std::string endpoint = host_port_of(url);
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return invalid_argument("endpoint must be [http[s]://]HOST:PORT");
  std::string host = endpoint.substr(0, colon);
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    if (tls) {
      ssl::context ctx(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
      if (admin_ca().empty()) ctx.set_default_verify_paths();
      else ctx.load_verify_file(admin_ca());
      ctx.set_verify_mode(ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
      stream.set_verify_callback(ssl::host_name_verification(host));
      SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(stream).connect(resolver.resolve(host, endpoint.substr(colon + 1)));
      stream.handshake(ssl::stream_base::client);
      HttpReply r = exchange(stream, endpoint, call);
      beast::error_code ec;
      stream.shutdown(ec);
      return r;
    }
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, endpoint.substr(colon + 1)));
    HttpReply r = exchange(stream, endpoint, call);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return r;
  } catch (const boost::system::system_error& e) {
    // The error's own words, without the library's source location.
    return make_error(ErrorCode::kUnavailable, "cannot reach " + call.what + " at " + url + ": " + e.code().message());
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, "cannot reach " + call.what + " at " + url + ": " + e.what());
  }
}

}  // namespace kiseki::tools
