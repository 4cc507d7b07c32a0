// A connection's non-blocking socket, plain or TLS, as a Beast SyncReadStream /
// SyncWriteStream for the worker that serves a request: a call that would block
// waits in poll() up to the stream's timeout, so no read or write can hang a
// worker. The reactor (server.cc) reads request headers from the same socket
// without a worker; the two never use it at once.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>

#include "common/send_iov.h"

namespace kiseki::s3 {

class FdStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using error_code = boost::beast::error_code;

  explicit FdStream(int fd, SSL* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  void set_timeout(int seconds) { timeout_ms_ = seconds * 1000; }

  // Reads what the socket (or TLS) has at once, without waiting: bytes read,
  // 0 if none are there; -1 on end of stream or error.
  ssize_t read_now(void* p, size_t n) {
    if (ssl_) {
      ERR_clear_error();
      int r = SSL_read(ssl_, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (r > 0) return r;
      int e = SSL_get_error(ssl_, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    for (;;) {
      ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
      if (r > 0) return r;
      if (r == 0) return -1;
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
  }
  // Whether bytes arrive within `ms` (TLS: decrypted ones already buffered count).
  bool wait_readable(int ms) {
    if (ssl_ && SSL_pending(ssl_) > 0) return true;
    return wait(POLLIN, ms);
  }

  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      for (;;) {
        short want = POLLIN;
        if (ssl_) {
          ERR_clear_error();
          int n = SSL_read(ssl_, b.data(), static_cast<int>(std::min<size_t>(b.size(), INT_MAX)));
          if (n > 0) return static_cast<size_t>(n);
          if (!tls_retry(n, &want, ec)) return 0;
        } else {
          ssize_t n = ::recv(fd_, b.data(), b.size(), MSG_DONTWAIT);
          if (n > 0) return static_cast<size_t>(n);
          if (n == 0) {
            ec = boost::asio::error::eof;
            return 0;
          }
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            ec = error_code(errno, boost::system::system_category());
            return 0;
          }
        }
        if (!wait(want, timeout_ms_)) {
          ec = boost::asio::error::timed_out;
          return 0;
        }
      }
    }
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  template <class Buffers>
  size_t write_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      ssize_t n = write_once(b.data(), b.size(), ec);
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    return 0;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  bool write_all(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      error_code ec;
      ssize_t w = write_once(c, n, ec);
      if (w <= 0) return false;
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  // Writes the buffers in order, in as few sendmsg calls as the socket takes
  // (one syscall for a header and a body). Advances `iov` past what was sent.
  bool write_v(iovec* iov, size_t n) {
    if (ssl_) {
      for (size_t k = 0; k < n; ++k)
        if (!write_all(iov[k].iov_base, iov[k].iov_len)) return false;
      return true;
    }
    for (;;) {
      switch (send_some(fd_, &iov, &n)) {
        case SendResult::kDone: return true;
        case SendResult::kPartial: continue;
        case SendResult::kNoRoom:
          if (!wait(POLLOUT, timeout_ms_)) return false;
          continue;
        case SendResult::kError: return false;
      }
    }
  }

 private:
  // One write of at most n bytes, waiting up to the timeout for room.
  ssize_t write_once(const void* p, size_t n, error_code& ec) {
    for (;;) {
      short want = POLLOUT;
      if (ssl_) {
        ERR_clear_error();
        int w = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
        if (w > 0) return w;
        if (!tls_retry(w, &want, ec)) return -1;
      } else {
        ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          ec = error_code(errno, boost::system::system_category());
          return -1;
        }
      }
      if (!wait(want, timeout_ms_)) {
        ec = boost::asio::error::timed_out;
        return -1;
      }
    }
  }
  bool wait(short events, int ms) {
    pollfd p{fd_, events, 0};
    for (;;) {
      int r = ::poll(&p, 1, ms);
      if (r > 0) return true;
      if (r == 0) return false;
      if (errno != EINTR) return false;
    }
  }
  // After a failed SSL_read/SSL_write: true (with *want) if it only needs the
  // socket to become readable or writable; false with ec set otherwise.
  bool tls_retry(int rc, short* want, error_code& ec) {
    switch (SSL_get_error(ssl_, rc)) {
      case SSL_ERROR_WANT_READ: *want = POLLIN; return true;
      case SSL_ERROR_WANT_WRITE: *want = POLLOUT; return true;
      case SSL_ERROR_ZERO_RETURN: ec = boost::asio::error::eof; return false;
      case SSL_ERROR_SYSCALL:
        ec = errno ? error_code(errno, boost::system::system_category()) : error_code(boost::asio::error::eof);
        return false;
      default: ec = boost::asio::error::connection_reset; return false;
    }
  }

  int fd_;
  SSL* ssl_;
  int timeout_ms_ = 30000;
};

}  // namespace kiseki::s3
