#include "net/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/host_port.h"
#include "net/frame.h"
#include "net/tls_tunnel.h"

namespace kiseki::net {

struct Connection::Pending {
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::string payload;
};

namespace {

Result<int> dial(const std::string& host_port, std::chrono::milliseconds timeout) {
  KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(host_port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp.second);
  if (int rc = ::getaddrinfo(hp.first.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Status(ErrorCode::kUnavailable, host_port + ": " + ::gai_strerror(rc));
  Status last(ErrorCode::kUnavailable, host_port + ": no address");
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
        rc = 0;
      else
        errno = err ? err : ETIMEDOUT;
    }
    if (rc == 0) {
      ::freeaddrinfo(res);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    last = Status(ErrorCode::kUnavailable, host_port + ": " + std::strerror(errno));
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return last;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::string& host_port, std::chrono::milliseconds timeout,
                                                    SSL_CTX* tls) {
  KISEKI_ASSIGN_OR_RETURN(int fd, dial(host_port, timeout));
  std::thread pump;
  if (tls) {
    std::string error;
    SSL* ssl = net::tls_connect(tls, fd, parse_host_port(host_port)->first, static_cast<int>(timeout.count()), &error);
    if (!ssl) {
      ::close(fd);
      return Status(ErrorCode::kUnavailable, host_port + ": " + error);
    }
    KISEKI_ASSIGN_OR_RETURN(net::Tunnel t, net::open_tunnel(ssl, fd));
    fd = t.plain_fd;
    pump = std::move(t.pump);
  }
  std::unique_ptr<Connection> c(new Connection(fd));
  c->pump_ = std::move(pump);
  c->reader_ = std::thread([p = c.get()] { p->read_loop(); });
  return c;
}

Connection::Connection(int fd) : fd_(fd) {}

Connection::~Connection() {
  ::shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  ::close(fd_);
  if (pump_.joinable()) pump_.join();
}

bool Connection::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

void Connection::fail_all(const Status& why) {
  std::lock_guard lock(mu_);
  broken_ = true;
  for (auto& [id, p] : pending_) {
    p->done = true;
    p->status = why;
    p->cv.notify_one();
  }
  pending_.clear();
}

Result<std::string> Connection::call(uint16_t opcode, std::string_view payload, std::chrono::milliseconds deadline) {
  auto p = std::make_shared<Pending>();
  net::FrameHeader h;
  h.opcode = opcode;
  h.deadline_ms = static_cast<uint32_t>(deadline.count());
  {
    std::lock_guard lock(mu_);
    if (broken_) return Status(ErrorCode::kUnavailable, "connection lost");
    h.request_id = next_id_++;
    pending_[h.request_id] = p;
  }
  std::string frame = net::encode_frame(h, payload);
  bool sent = true;
  {
    std::lock_guard lock(write_mu_);
    const char* d = frame.data();
    size_t n = frame.size();
    while (n > 0) {
      ssize_t w = ::send(fd_, d, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd pf{fd_, POLLOUT, 0};
        if (::poll(&pf, 1, static_cast<int>(deadline.count())) == 1) continue;
      }
      if (w <= 0) {
        sent = false;
        break;
      }
      d += w;
      n -= static_cast<size_t>(w);
    }
  }
  if (!sent) {
    ::shutdown(fd_, SHUT_RDWR);  // the reader sees it and fails every call
    fail_all(Status(ErrorCode::kUnavailable, "connection lost"));
  }
  std::unique_lock lock(mu_);
  if (!p->cv.wait_for(lock, deadline, [&] { return p->done; })) {
    pending_.erase(h.request_id);
    return Status(ErrorCode::kTimeout, "no answer within " + std::to_string(deadline.count()) + " ms");
  }
  if (!p->status) return p->status;
  return std::move(p->payload);
}

void Connection::read_loop() {
  net::FrameReader reader;
  std::string buf(256 << 10, '\0');
  Status why(ErrorCode::kUnavailable, "connection lost");
  for (;;) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (Status st = reader.feed(std::string_view(buf.data(), static_cast<size_t>(n))); !st) {
      why = Status(ErrorCode::kUnavailable, "server sent what is not a frame: " + st.message());
      break;
    }
    bool bad = false;
    while (auto rec = reader.next()) {
      net::Frame f;
      if (Status st = net::parse_frame(*rec, &f); !st) {
        why = Status(ErrorCode::kUnavailable, "answer damaged in transit: " + st.message());
        bad = true;
        break;
      }
      std::lock_guard lock(mu_);
      auto it = pending_.find(f.header.request_id);
      if (it == pending_.end()) continue;  // its caller gave up
      auto& p = *it->second;
      p.done = true;
      if (f.header.status == 0) p.payload.assign(f.payload);
      else p.status = Status(static_cast<ErrorCode>(f.header.status), std::string(f.payload));
      p.cv.notify_one();
      pending_.erase(it);
    }
    if (bad) break;
  }
  ::shutdown(fd_, SHUT_RDWR);
  fail_all(why);
}

}  // namespace kiseki::net
