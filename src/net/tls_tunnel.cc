#include "net/tls_tunnel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "common/tls.h"

namespace kiseki::net {

namespace {

constexpr size_t kChunk = 64 << 10;

// Waits until `fd` is ready for what the last SSL call wanted; false on timeout or error.
bool wait_for(SSL* ssl, int rc, int fd, int timeout_ms) {
  int err = SSL_get_error(ssl, rc);
  short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
  if (!ev) return false;
  pollfd p{fd, ev, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// What an SSL call that did not finish waits for, as poll events; 0: the
// session is over (closed by the peer, or a TLS error).
short wanted(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  return err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

// Both directions at once on one thread, neither side ever waited on while
// the other has something: bytes that cannot go on yet are held (one chunk per
// direction) and their source is not read until they have gone.
void pump(SSL* ssl, int tls_fd, int plain_fd) {
  ::fcntl(plain_fd, F_SETFL, ::fcntl(plain_fd, F_GETFL) | O_NONBLOCK);
  std::vector<char> buf(kChunk);
  std::string to_plain, to_tls;  // to_tls is sent again as it is until SSL_write takes it
  for (;;) {
    short tls_ev = 0, plain_ev = 0;
    bool progress = false;
    if (!to_plain.empty()) {
      ssize_t w = ::send(plain_fd, to_plain.data(), to_plain.size(), MSG_NOSIGNAL);
      if (w > 0) {
        to_plain.erase(0, static_cast<size_t>(w));
        progress = true;
      } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
        plain_ev |= POLLOUT;
      } else {
        break;
      }
    }
    if (to_plain.empty()) {
      int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
      if (n > 0) {
        to_plain.assign(buf.data(), static_cast<size_t>(n));
        progress = true;
      } else if (short ev = wanted(ssl, n)) {
        tls_ev |= ev;
      } else {
        break;
      }
    }
    if (!to_tls.empty()) {
      int w = SSL_write(ssl, to_tls.data(), static_cast<int>(to_tls.size()));
      if (w > 0) {
        to_tls.clear();
        progress = true;
      } else if (short ev = wanted(ssl, w)) {
        tls_ev |= ev;
      } else {
        break;
      }
    }
    if (to_tls.empty()) {
      ssize_t n = ::recv(plain_fd, buf.data(), buf.size(), 0);
      if (n > 0) {
        to_tls.assign(buf.data(), static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        plain_ev |= POLLIN;
      } else {
        break;  // the caller closed its end
      }
    }
    if (progress) continue;
    pollfd p[2] = {{tls_fd, tls_ev, 0}, {plain_fd, plain_ev, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) break;
  }
  ERR_clear_error();
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::shutdown(plain_fd, SHUT_RDWR);  // the caller's end sees the end of the stream
  ::close(plain_fd);
  ::close(tls_fd);
}

SSL* handshake(SSL_CTX* ctx, int fd, int timeout_ms, std::string* error, bool server, const std::string& host) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) {
    *error = openssl_error_text();
    return nullptr;
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  SSL_set_fd(ssl, fd);
  if (!server) {
    // The certificate must name the host: as an address for an IP literal
    // (its IP SAN), else as a DNS name (also sent as SNI).
    in6_addr any;
    bool literal = ::inet_pton(AF_INET, host.c_str(), &any) == 1 || ::inet_pton(AF_INET6, host.c_str(), &any) == 1;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
  }
  for (;;) {
    ERR_clear_error();
    int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (rc == 1) return ssl;  // the socket stays non-blocking: the pump wants it so
    if (!wait_for(ssl, rc, fd, timeout_ms)) {
      long verify = SSL_get_verify_result(ssl);
      std::string text = openssl_error_text();
      if (verify != X509_V_OK) text = X509_verify_cert_error_string(verify);
      *error = text.empty() ? "TLS handshake failed or timed out" : "TLS handshake: " + text;
      SSL_free(ssl);
      ::fcntl(fd, F_SETFL, flags);
      return nullptr;
    }
  }
}

}  // namespace

SSL* tls_accept(SSL_CTX* ctx, int fd, int timeout_ms, std::string* error) {
  return handshake(ctx, fd, timeout_ms, error, true, "");
}

SSL* tls_connect(SSL_CTX* ctx, int fd, const std::string& host, int timeout_ms, std::string* error) {
  return handshake(ctx, fd, timeout_ms, error, false, host);
}

Result<Tunnel> open_tunnel(SSL* ssl, int tls_fd) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    Status st(ErrorCode::kIoError, std::string("socketpair: ") + std::strerror(errno));
    SSL_free(ssl);
    ::close(tls_fd);
    return st;
  }
  Tunnel t;
  t.plain_fd = sv[0];
  try {
    t.pump = std::thread(pump, ssl, tls_fd, sv[1]);
  } catch (const std::system_error& e) {
    SSL_free(ssl);
    ::close(tls_fd);
    ::close(sv[0]);
    ::close(sv[1]);
    return Status(ErrorCode::kUnavailable, std::string("no thread for a TLS connection: ") + e.what());
  }
  return t;
}

}  // namespace kiseki::net
