// One S3 connection as the reactor and the workers of S3Server pass it between
// them (internal to server.cc and serve.cc).
#pragma once

#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "protocols/s3/server.h"
#include "protocols/s3/stream.h"

namespace kiseki::s3 {

struct S3Server::Conn {
  int fd = -1;
  uint32_t ip = 0;  // IPv4, host order
  std::shared_ptr<boost::asio::ssl::context> tls;  // kept while ssl lives
  SSL* ssl = nullptr;
  bool handshaken = false;
  std::string pending;  // bytes of the next request read so far
  // While parked: when the reactor gives up on it (the whole header's deadline
  // once a request began, the idle timeout before that).
  std::chrono::steady_clock::time_point deadline;

  ~Conn() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

std::string new_request_id();
// A bare error reply for what never reaches the handler (Connection: close).
void send_plain_error(FdStream& s, int status, const char* code, const char* msg);

// A header is read in pieces of this size. Body bytes that come in with it
// are copied on through the parser's buffer into the handler's; the rest of
// a body of known length goes from the socket straight into the handler's
// buffer. S3 headers, SigV4 included, are mostly under 2 KiB.
constexpr size_t kHeaderReadBytes = 4 << 10;

// Where a request's header ends in `data` (after its blank line), or npos.
inline size_t header_end(std::string_view data) {
  size_t p = data.find("\r\n\r\n");
  return p == std::string_view::npos ? p : p + 4;
}

}  // namespace kiseki::s3
