// S3Server's connections: parked in the reactor (TLS handshakes and request
// headers are read there), served by the worker pool. The request loop is in
// serve.cc.
#include "protocols/s3/server.h"

#include <sys/socket.h>

#include "common/logging.h"
#include "common/tcp_listener.h"
#include "protocols/s3/server_conn.h"
#include "protocols/s3/stream.h"

namespace kiseki::s3 {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<S3Server>> S3Server::start(gateway::Gateway* gw, const S3ServerOptions& opts) {
  std::unique_ptr<S3Server> s(new S3Server(gw, opts));
  KISEKI_ASSIGN_OR_RETURN(TcpListener l, listen_tcp(opts.listen, "S3"));
  s->listen_fd_ = l.fd;
  s->port_ = l.port;
  S3Server* p = s.get();
  Reactor::Callbacks cb;
  cb.accepted = [p](int fd, uint32_t ip, uint16_t) { p->accepted(fd, ip); };
  cb.refused = [p](int fd) {
    if (p->opts_.tls) return;
    FdStream st(fd);
    st.set_timeout(0);
    send_plain_error(st, 503, "SlowDown", "Too many connections from this address or in all");
  };
  cb.ready = [p](int fd) {
    if (auto c = p->find(fd)) p->on_readable(c);
  };
  cb.expired = [p](int fd) {
    if (auto c = p->find(fd)) p->close_conn(c);
  };
  KISEKI_ASSIGN_OR_RETURN(s->reactor_,
                          Reactor::create(l.fd, {"s3", opts.max_connections, opts.max_connections_per_client},
                                          std::move(cb)));
  s->reactor_->run();
  return s;
}

S3Server::~S3Server() { stop(); }

void S3Server::stop() {
  if (stopping_.exchange(true)) return;
  // A server whose start failed (its port in use) has no reactor or listener yet.
  if (reactor_) reactor_->stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  {
    // Workers blocked on a socket see it fail and return.
    std::lock_guard lock(mu_);
    for (const auto& [fd, c] : conns_) ::shutdown(fd, SHUT_RDWR);
  }
  pool_.stop();
  std::lock_guard lock(mu_);
  conns_.clear();
}

std::shared_ptr<S3Server::Conn> S3Server::find(int fd) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(fd);
  return it == conns_.end() ? nullptr : it->second;
}

void S3Server::accepted(int fd, uint32_t ip) {
  auto c = std::make_shared<Conn>();
  c->fd = fd;
  c->ip = ip;
  if (opts_.tls) {
    c->tls = opts_.tls->context();
    c->ssl = SSL_new(c->tls->native_handle());
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
      reactor_->forget(fd, ip);
      return;  // c's destructor closes fd
    }
    SSL_set_accept_state(c->ssl);
  }
  {
    std::lock_guard lock(mu_);
    conns_[fd] = c;
  }
  // The first request's whole header is due within the header timeout.
  c->deadline = Clock::now() + std::chrono::seconds(opts_.header_timeout_s);
  reactor_->park(fd, c->deadline);
}

void S3Server::on_readable(const std::shared_ptr<Conn>& c) {
  if (c->ssl && !c->handshaken) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      ERR_clear_error();
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return close_conn(c);
      return reactor_->park(c->fd, c->deadline, e == SSL_ERROR_WANT_WRITE);
    }
    c->handshaken = true;
  }
  FdStream s(c->fd, c->ssl);
  bool began = !c->pending.empty();
  char tmp[kHeaderReadBytes];
  while (header_end(c->pending) == std::string::npos) {
    if (c->pending.size() > opts_.max_header_bytes) {
      s.set_timeout(1);
      send_plain_error(s, 400, "RequestHeaderSectionTooLarge",
                       "Your request header section exceeds the maximum allowed size.");
      return close_conn(c);
    }
    ssize_t n = s.read_now(tmp, sizeof(tmp));
    if (n < 0) return close_conn(c);
    if (n == 0) break;
    c->pending.append(tmp, static_cast<size_t>(n));
  }
  if (header_end(c->pending) == std::string::npos) {
    // A request began: its whole header is due within the header timeout.
    if (!began && !c->pending.empty())
      c->deadline = std::min(c->deadline, Clock::now() + std::chrono::seconds(opts_.header_timeout_s));
    return reactor_->park(c->fd, c->deadline);
  }
  pool_.post([this, c] {
    if (!stopping_ && serve(*c)) park(c);
    else close_conn(c);
  });
}

void S3Server::park(const std::shared_ptr<Conn>& c) {
  if (header_end(c->pending) != std::string::npos || (c->ssl && SSL_pending(c->ssl) > 0)) return on_readable(c);
  if (c->pending.capacity() > (64 << 10)) c->pending.shrink_to_fit();
  int s = c->pending.empty() ? opts_.idle_timeout_s : opts_.header_timeout_s;
  c->deadline = Clock::now() + std::chrono::seconds(s);
  reactor_->park(c->fd, c->deadline);
}

void S3Server::close_conn(const std::shared_ptr<Conn>& c) {
  {
    std::lock_guard lock(mu_);
    if (conns_.erase(c->fd) == 0) return;
  }
  reactor_->forget(c->fd, c->ip);  // c's destructor closes the socket
}

}  // namespace kiseki::s3
