#include "protocols/s3/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <climits>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/logging.h"
#include "crypto/primitives.h"
#include "common/tcp_listener.h"

namespace kiseki::s3 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

// A blocking socket, plain or TLS, as a Beast SyncReadStream / SyncWriteStream.
// SO_RCVTIMEO and SO_SNDTIMEO bound every call (TLS records included), which
// asio's own blocking sockets would not honour.
class FdStream {
 public:
  explicit FdStream(int fd, SSL* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  using executor_type = asio::any_io_executor;

  template <class Buffers>
  size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    ec = {};
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      if (ssl_) {
        ERR_clear_error();
        int n = SSL_read(ssl_, b.data(), static_cast<int>(std::min<size_t>(b.size(), INT_MAX)));
        if (n > 0) return static_cast<size_t>(n);
        ec = tls_error(n);
        return 0;
      }
      for (;;) {
        ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
        if (n > 0) return static_cast<size_t>(n);
        if (n == 0) {
          ec = asio::error::eof;
          return 0;
        }
        if (errno == EINTR) continue;
        ec = (errno == EAGAIN || errno == EWOULDBLOCK) ? beast::error_code(asio::error::timed_out)
                                                       : beast::error_code(errno, boost::system::system_category());
        return 0;
      }
    }
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, beast::error_code& ec) {
    ec = {};
    if (ssl_) {
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
        asio::const_buffer b = *it;
        if (b.size() == 0) continue;
        ERR_clear_error();
        int n = SSL_write(ssl_, b.data(), static_cast<int>(std::min<size_t>(b.size(), INT_MAX)));
        if (n > 0) return static_cast<size_t>(n);
        ec = tls_error(n);
        return 0;
      }
      return 0;
    }
    iovec iov[16];
    int cnt = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && cnt < 16; ++it) {
      asio::const_buffer b = *it;
      iov[cnt++] = {const_cast<void*>(b.data()), b.size()};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(cnt);
    for (;;) {
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      ec = (errno == EAGAIN || errno == EWOULDBLOCK) ? beast::error_code(asio::error::timed_out)
                                                     : beast::error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    beast::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  // Writes a and then b, as one sendmsg where it can (one syscall, one segment).
  bool write_two(const void* a, size_t an, const void* b, size_t bn) {
    if (ssl_) return write_all(a, an) && write_all(b, bn);
    iovec iov[2] = {{const_cast<void*>(a), an}, {const_cast<void*>(b), bn}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return false;
    size_t w = static_cast<size_t>(n);
    if (w < an) return write_all(static_cast<const char*>(a) + w, an - w) && write_all(b, bn);
    return write_all(static_cast<const char*>(b) + (w - an), bn - (w - an));
  }
  bool write_all(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (ssl_ && n > 0) {
      ERR_clear_error();
      int w = SSL_write(ssl_, c, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (w <= 0) return false;
      c += w;
      n -= static_cast<size_t>(w);
    }
    while (n > 0) {
      ssize_t w = ::send(fd_, c, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  void set_timeout(int seconds) {
    timeval tv{seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

 private:
  beast::error_code tls_error(int rc) const {
    switch (SSL_get_error(ssl_, rc)) {
      case SSL_ERROR_ZERO_RETURN: return asio::error::eof;
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE: return asio::error::timed_out;  // SO_RCVTIMEO / SO_SNDTIMEO
      case SSL_ERROR_SYSCALL:
        if (errno == EAGAIN || errno == EWOULDBLOCK) return asio::error::timed_out;
        return errno ? beast::error_code(errno, boost::system::system_category()) : beast::error_code(asio::error::eof);
      default: return asio::error::connection_reset;
    }
  }
  int fd_;
  SSL* ssl_;
};

std::string new_request_id() {
  uint8_t b[8];
  crypto::random_bytes(b);
  std::string s = to_hex(b);
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// A bare error reply for requests that never reach the handler.
void send_plain_error(FdStream& s, int status, const char* code, const char* msg) {
  S3Error e{status, code, msg};
  std::string body = error_xml(e, "", new_request_id());
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(static_cast<http::status>(status))) +
                     "\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  s.write_all(head.data(), head.size());
  s.write_all(body.data(), body.size());
}

}  // namespace

Result<std::unique_ptr<S3Server>> S3Server::start(gateway::Gateway* gw, const S3ServerOptions& opts) {
  std::unique_ptr<S3Server> s(new S3Server(gw, opts));
  s->conns_ = std::make_unique<ConnectionTracker>(
      opts.max_connections, MetricsRegistry::global().gauge("kiseki_s3_open_connections", "Open S3 connections"));
  KISEKI_ASSIGN_OR_RETURN(TcpListener l, listen_tcp(opts.listen, "S3"));
  s->listen_fd_ = l.fd;
  s->port_ = l.port;
  s->acceptor_ = std::thread([p = s.get()] { p->accept_loop(); });
  return s;
}

S3Server::~S3Server() { stop(); }

void S3Server::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  conns_->close_all();
}

void S3Server::accept_loop() {
  while (!stopping_) {
    int fd = accept_tcp(listen_fd_);
    if (fd < 0) break;  // listen socket shut down
    if (!conns_->add(fd)) {
      FdStream s(fd);
      if (!opts_.tls) send_plain_error(s, 503, "SlowDown", "Too many connections");
      ::close(fd);
      continue;
    }
    std::thread([this, fd] {
      serve(fd);
      ::close(fd);
      conns_->remove(fd);
    }).detach();
  }
}

void S3Server::serve(int fd) {
  std::shared_ptr<asio::ssl::context> ctx;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
  if (opts_.tls) {
    // The handshake is bounded like any read of a request.
    FdStream(fd).set_timeout(opts_.io_timeout_s);
    ctx = opts_.tls->context();
    ssl.reset(SSL_new(ctx->native_handle()));
    ERR_clear_error();
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) {
      ERR_clear_error();
      return;
    }
  }
  FdStream stream(fd, ssl.get());
  beast::flat_buffer buf(opts_.max_header_bytes + 4096);
  for (;;) {
    stream.set_timeout(opts_.idle_timeout_s);
    http::request_parser<http::empty_body> hp;
    hp.header_limit(static_cast<uint32_t>(opts_.max_header_bytes));
    hp.body_limit(boost::none);
    beast::error_code ec;
    http::read_header(stream, buf, hp, ec);
    if (ec) {
      if (ec == http::error::header_limit)
        send_plain_error(stream, 400, "RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size.");
      else if (ec != asio::error::eof && ec != http::error::end_of_stream && ec != asio::error::timed_out &&
               ec != asio::error::connection_reset && ec.category() != boost::system::system_category())
        send_plain_error(stream, 400, "BadRequest", "Malformed HTTP request");
      return;
    }
    stream.set_timeout(opts_.io_timeout_s);
    auto& h = hp.get();
    S3Request req;
    req.method = std::string(h.method_string());
    req.raw_target = std::string(h.target());
    req.request_id = new_request_id();
    for (const auto& f : h) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[name].emplace_back(f.value());
    }
    std::string_view target = req.raw_target;
    auto qpos = target.find('?');
    std::string_view raw_path = target.substr(0, qpos);
    bool bad_target = raw_path.empty() || raw_path.front() != '/' || !uri_decode(raw_path, &req.path) ||
                      (qpos != std::string_view::npos && !parse_query(target.substr(qpos + 1), &req.query));
    if (bad_target) {
      send_plain_error(stream, 400, "InvalidURI", "Couldn't parse the specified URI.");
      return;
    }
    assign_bucket_and_key(&req, bucket_from_host(req.header_or("host"), opts_.s3.domain));

    // The body streams from the socket on demand; "100 Continue" goes out the
    // first time the handler asks for body bytes.
    http::request_parser<http::buffer_body> bp(std::move(hp));
    bp.body_limit(boost::none);
    bool expect_continue = beast::iequals(req.header_or("expect"), "100-continue");
    bool continued = false;
    bool body_error = false;
    RequestBody body;
    body.content_length = bp.content_length() ? *bp.content_length() : 0;
    body.raw = [&](MutableByteSpan out) -> Result<size_t> {
      if (bp.is_done() || out.empty()) return size_t{0};
      if (expect_continue && !continued) {
        continued = true;
        static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!stream.write_all(kContinue, sizeof(kContinue) - 1)) return io_error("client went away");
      }
      for (;;) {
        bp.get().body().data = out.data();
        bp.get().body().size = out.size();
        beast::error_code rec;
        http::read_some(stream, buf, bp, rec);
        size_t got = out.size() - bp.get().body().size;
        if (rec == http::error::need_buffer) rec = {};
        if (rec) {
          body_error = true;
          return invalid_argument("IncompleteBody: You did not provide the number of bytes specified by the Content-Length HTTP header");
        }
        if (got > 0) return got;
        if (bp.is_done()) return size_t{0};
      }
    };

    Response res = handler_.handle(req, body);

    // Drain what the handler did not read, so the next request starts clean;
    // give up (and close) past 1 MiB or on a broken body.
    bool keep_alive = bp.get().keep_alive() && !body_error;
    if (keep_alive && !bp.is_done()) {
      if (expect_continue && !continued) {
        keep_alive = false;  // never sent 100: the client may not send the body at all
      } else {
        uint8_t sink[16384];
        uint64_t drained = 0;
        while (!bp.is_done() && drained < (1 << 20)) {
          auto n = body.raw({sink, sizeof(sink)});
          if (!n || *n == 0) break;
          drained += *n;
        }
        keep_alive = bp.is_done();
      }
    }

    uint64_t content_length = res.object ? res.length : res.body.size();
    std::string head = "HTTP/1.1 " + std::to_string(res.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(res.status))) + "\r\n";
    for (const auto& [k, v] : res.headers) head += k + ": " + v + "\r\n";
    head += "Date: " + http_date(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count()) + "\r\n";
    if (res.status != 204 && res.status != 304) head += "Content-Length: " + std::to_string(content_length) + "\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    bool send_body = req.method != "HEAD" && !res.head;
    if (!res.object) {
      if (send_body && !res.body.empty()) {
        head += res.body;
      }
      if (!stream.write_all(head.data(), head.size())) return;
    } else if (!send_body || res.length == 0) {
      if (!stream.write_all(head.data(), head.size())) return;
    } else {
      // Stream the pinned object version in pieces: memory per connection stays
      // bounded. The header goes out with the first piece.
      constexpr uint64_t kPiece = 4 << 20;
      Bytes piece;
      bool first = true;
      for (uint64_t off = res.offset, end = res.offset + res.length; off < end;) {
        Status st = gw_->read_object(*res.object, off, std::min(kPiece, end - off), &piece);
        if (!st.is_ok() || piece.empty()) {
          KLOG_ERROR("s3 GET {} aborted at {}: {}", req.path, off, st.to_string());
          if (first) send_plain_error(stream, 500, "InternalError", "the object could not be read");
          return;  // past the header the client sees a short body and a closed connection
        }
        bool ok = first ? stream.write_two(head.data(), head.size(), piece.data(), piece.size())
                        : stream.write_all(piece.data(), piece.size());
        if (!ok) return;
        first = false;
        off += piece.size();
      }
    }
    if (!keep_alive || stopping_) return;
  }
}

}  // namespace kiseki::s3
