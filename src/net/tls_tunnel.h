// TLS for the framed-record protocols (the native protocol): a TLS session on
// one socket is turned into a plain local stream socket (a socketpair) that the
// record server or the client's connection reads and writes as if it were the
// TCP connection itself, while one pump thread, the only user of the SSL
// object, moves bytes between the two. The pump ends when either side closes;
// it then sends close_notify, frees the SSL object and closes the TLS socket.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <thread>

#include "common/status.h"

namespace kiseki::net {

struct Tunnel {
  int plain_fd = -1;  // the caller's end: blocking, owned by the caller
  std::thread pump;   // owns the SSL object and the TLS socket
};

// `ssl` has completed its handshake on `tls_fd`; both pass to the pump (also
// on error, when they are freed and closed here).
Result<Tunnel> open_tunnel(SSL* ssl, int tls_fd);

// The handshake on a blocking socket, bounded by `timeout_ms`; the SSL object
// (made from `ctx`) on success, nullptr with `*error` set otherwise. The socket
// stays open either way.
SSL* tls_accept(SSL_CTX* ctx, int fd, int timeout_ms, std::string* error);
SSL* tls_connect(SSL_CTX* ctx, int fd, const std::string& host, int timeout_ms, std::string* error);

}  // namespace kiseki::net
