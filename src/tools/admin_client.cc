#include "tools/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kiseki::tools {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {
std::string& admin_token() {
  static std::string t;
  return t;
}
}  // namespace

void set_admin_token(std::string token) { admin_token() = std::move(token); }

Result<HttpReply> http_request(const std::string& endpoint, const std::string& method,
                               const std::string& target, const std::string& body) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return invalid_argument("endpoint must be HOST:PORT");
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(endpoint.substr(0, colon), endpoint.substr(colon + 1)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, endpoint);
    req.set(http::field::user_agent, "kiseki-cli");
    if (!admin_token().empty()) req.set(http::field::authorization, "Bearer " + admin_token());
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpReply{static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kUnavailable, "cannot reach the admin API at " + endpoint + ": " + e.what());
  }
}

}  // namespace kiseki::tools
