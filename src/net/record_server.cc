#include "net/record_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <vector>

#include "common/send_iov.h"
#include "common/tcp_listener.h"
#include "common/logging.h"
#include "net/tls_tunnel.h"

namespace kiseki::net {

namespace {

using Clock = std::chrono::steady_clock;

bool bytes_pending(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

bool wait_fd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

// How long a reader waits for a client's next record before the connection
// goes back to the reactor.
constexpr int kLingerMs = 50;
constexpr int kSendTimeoutMs = 30000;
constexpr int kHandshakeTimeoutMs = 10000;  // a TLS handshake, from the first byte
constexpr size_t kMaxHandshakes = 256;       // at once; more connections wait for none: closed

std::atomic<size_t> g_partial_bytes{0};

}  // namespace

struct RecordServer::Conn {
  int fd = -1;
  uint32_t ip = 0;
  std::unique_ptr<Session> session;
  std::mutex write_mu;  // one reply on the wire at a time
  std::mutex mu;        // guards inflight
  std::condition_variable cv;
  size_t inflight = 0;
  // Read by the reactor while parked, by one reader thread otherwise.
  std::unique_ptr<RecordReader> reader;
  size_t charged = 0;  // memory of `reader` counted in g_partial_bytes
  Clock::time_point deadline;
  ~Conn() {
    g_partial_bytes.fetch_sub(charged);
    if (fd >= 0) ::close(fd);
  }
  // The framed bytes and the tail's slices, in as few sendmsg calls as the
  // socket takes.
  bool send(const Reply& reply) {
    thread_local std::vector<iovec> iov;
    iov.clear();
    iov.push_back({const_cast<char*>(reply.framed.data()), reply.framed.size()});
    for (ByteSpan s : reply.tail) iov.push_back({const_cast<uint8_t*>(s.data()), s.size()});
    iovec* v = iov.data();
    size_t n = iov.size();
    std::lock_guard lock(write_mu);
    for (;;) {
      switch (send_some(fd, &v, &n)) {
        case SendResult::kDone: return true;
        case SendResult::kPartial: continue;
        case SendResult::kNoRoom:
          if (!wait_fd(fd, POLLOUT, kSendTimeoutMs)) return false;
          continue;
        case SendResult::kError: return false;
      }
    }
  }
};

Result<std::unique_ptr<RecordServer>> RecordServer::start(RecordService* service, const RecordServerOptions& opts) {
  std::unique_ptr<RecordServer> s(new RecordServer(service, opts));
  KISEKI_ASSIGN_OR_RETURN(TcpListener l, listen_tcp(opts.listen, opts.name));
  s->listen_fd_ = l.fd;
  s->port_ = l.port;
  RecordServer* p = s.get();
  Reactor::Callbacks cb;
  if (opts.tls) cb.accepted = [p](int fd, uint32_t ip, uint16_t port) { p->accept_tls(fd, ip, port); };
  else cb.accepted = [p](int fd, uint32_t ip, uint16_t port) { p->accepted(fd, ip, port); };
  cb.ready = [p](int fd) {
    if (auto c = p->find(fd)) p->on_readable(c);
  };
  cb.expired = [p](int fd) {
    if (auto c = p->find(fd)) p->close_conn(c);
  };
  KISEKI_ASSIGN_OR_RETURN(
      s->reactor_, Reactor::create(l.fd, {opts.name, opts.max_connections, opts.max_connections_per_client},
                                   std::move(cb)));
  for (size_t i = 0; i < std::max<size_t>(1, opts.workers); ++i)
    s->workers_.emplace_back([p] { p->worker_loop(); });
  s->reactor_->run();
  return s;
}

RecordServer::~RecordServer() { stop(); }

void RecordServer::stop() {
  if (stopping_.exchange(true)) return;
  {
    // Handshakes under way end (their sockets shut down) before the reactor goes.
    std::unique_lock lock(tls_mu_);
    for (const auto& [fd, ip] : handshaking_) ::shutdown(fd, SHUT_RDWR);
    tls_cv_.wait(lock, [this] { return handshaking_.empty(); });
  }
  // A server whose start failed (its port in use) has no reactor or listener yet.
  if (reactor_) reactor_->stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  {
    std::lock_guard lock(conns_mu_);
    for (const auto& [fd, c] : conns_) {
      ::shutdown(fd, SHUT_RDWR);
      c->cv.notify_all();
    }
  }
  readers_.stop();
  {
    std::lock_guard lock(mu_);
    stop_workers_ = true;
  }
  task_cv_.notify_all();
  for (auto& w : workers_) w.join();
  tasks_.clear();
  std::lock_guard lock(conns_mu_);
  conns_.clear();
}

std::shared_ptr<RecordServer::Conn> RecordServer::find(int fd) {
  std::lock_guard lock(conns_mu_);
  auto it = conns_.find(fd);
  return it == conns_.end() ? nullptr : it->second;
}

void RecordServer::accepted(int fd, uint32_t ip, uint16_t port) {
  // Blocking, with the linger as receive timeout, for the reader threads; the
  // reactor and the replies never block (MSG_DONTWAIT).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval linger{0, kLingerMs * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &linger, sizeof(linger));
  auto conn = std::make_shared<Conn>();
  conn->fd = fd;
  conn->ip = ip;
  Peer peer;
  peer.ip = ip;
  peer.port = port;
  in_addr a{htonl(ip)};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, text, sizeof(text));
  peer.addr = text;
  conn->session = service_->connected(peer);
  conn->reader = service_->reader();
  {
    std::lock_guard lock(conns_mu_);
    conns_[fd] = conn;
  }
  conn->deadline = Clock::now() + std::chrono::seconds(opts_.idle_timeout_s);
  reactor_->park(fd, conn->deadline);
}

void RecordServer::accept_tls(int fd, uint32_t ip, uint16_t port) {
  {
    std::lock_guard lock(tls_mu_);
    if (stopping_ || handshaking_.size() >= kMaxHandshakes) {
      if (!stopping_) KLOG_WARN("{}: {} TLS handshakes under way; closing a new connection", opts_.name, kMaxHandshakes);
      reactor_->forget(fd, ip);
      ::close(fd);
      return;
    }
    handshaking_[fd] = ip;
  }
  auto handshake = [this, ctx = opts_.tls->context(), fd, ip, port] {
    std::string error;
    SSL* ssl = tls_accept(ctx->native_handle(), fd, kHandshakeTimeoutMs, &error);
    std::lock_guard lock(tls_mu_);
    handshaking_.erase(fd);
    if (!ssl) {
      in_addr a{htonl(ip)};
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &a, text, sizeof(text));
      KLOG_WARN("{}: {}: {}; closing", opts_.name, text, error);
      reactor_->forget(fd, ip);
      ::close(fd);
    } else if (auto t = open_tunnel(ssl, fd); !t || stopping_) {
      reactor_->forget(fd, ip);  // the tunnel, if made, ends with its plain end
      if (t) {
        ::close(t->plain_fd);
        t->pump.detach();
      }
    } else {
      // The pump owns the TLS socket now; the connection is the plain end,
      // counted in the limits under the client's address as the socket was.
      t->pump.detach();
      accepted(t->plain_fd, ip, port);
    }
    tls_cv_.notify_all();
  };
  try {
    std::thread(std::move(handshake)).detach();
  } catch (const std::system_error& e) {  // no thread to be had
    KLOG_WARN("{}: no thread for a TLS handshake ({}); closing the connection", opts_.name, e.what());
    std::lock_guard lock(tls_mu_);
    handshaking_.erase(fd);
    reactor_->forget(fd, ip);
    ::close(fd);
  }
}

bool RecordServer::feed(Conn& conn, std::string_view bytes) {
  if (Status st = conn.reader->feed(bytes); !st) {
    KLOG_WARN("{}: {}: {}; closing", opts_.name, conn.session->peer.addr, st.message());
    return false;
  }
  size_t now = conn.reader->footprint();
  if (now > conn.charged) {
    size_t total = g_partial_bytes.fetch_add(now - conn.charged) + (now - conn.charged);
    conn.charged = now;
    if (total > kPartialRecordBudget) {
      KLOG_WARN("{}: partial RPC records hold {} bytes, over the budget; closing {}", opts_.name, total,
                conn.session->peer.addr);
      return false;
    }
  } else {
    g_partial_bytes.fetch_sub(conn.charged - now);
    conn.charged = now;
  }
  return true;
}

void RecordServer::on_readable(const std::shared_ptr<Conn>& conn) {
  bool began = conn->reader->buffered() > 0;
  char buf[64 << 10];
  ssize_t n;
  do {
    n = ::recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return close_conn(conn);
  if (n > 0 && !feed(*conn, std::string_view(buf, static_cast<size_t>(n)))) return close_conn(conn);
  if (!conn->reader->has_record()) {
    // A record began: it is due within the record timeout.
    if (!began && conn->reader->buffered() > 0)
      conn->deadline = std::min(conn->deadline, Clock::now() + std::chrono::seconds(opts_.record_timeout_s));
    return reactor_->park(conn->fd, conn->deadline);
  }
  readers_.post([this, conn] { read_burst(conn); });
}

bool RecordServer::run_records(const std::shared_ptr<Conn>& conn) {
  std::optional<std::string> rec = conn->reader->next();
  while (rec) {
    std::optional<std::string> following = conn->reader->next();
    std::unique_lock lock(conn->mu);
    conn->cv.wait(lock, [&] { return conn->inflight < opts_.max_inflight_per_connection || stopping_; });
    if (stopping_) return false;
    ++conn->inflight;
    // A lone call runs here unless it may wait on the disk while more calls
    // are already arriving (a client with many in flight): those must not
    // queue behind an fsync.
    bool inline_call = !following && conn->inflight == 1 &&
                       (!service_->may_block(*rec) || !bytes_pending(conn->fd));
    lock.unlock();
    if (inline_call) {
      // The only call of a client that waits for each reply, and a quick
      // one: answer it on this thread, with no hand-off to a worker and back.
      run_call(conn, *rec, Clock::now());
    } else {
      std::lock_guard tl(mu_);
      tasks_.push_back(Task{conn, std::move(*rec), Clock::now()});
      task_cv_.notify_one();
    }
    rec = std::move(following);
  }
  return true;
}

void RecordServer::read_burst(const std::shared_ptr<Conn>& conn) {
  thread_local std::string buf(256 << 10, '\0');
  for (;;) {
    if (!run_records(conn) || stopping_) return close_conn(conn);
    // Blocks for the next record up to the linger (SO_RCVTIMEO): one system
    // call per record for a client that keeps sending.
    ssize_t n = ::recv(conn->fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return park(conn);  // a pause: back to the reactor
    if (n <= 0) return close_conn(conn);
    if (!feed(*conn, std::string_view(buf.data(), static_cast<size_t>(n)))) return close_conn(conn);
  }
}

void RecordServer::park(const std::shared_ptr<Conn>& conn) {
  int s = conn->reader->buffered() > 0 ? opts_.record_timeout_s : opts_.idle_timeout_s;
  conn->deadline = Clock::now() + std::chrono::seconds(s);
  reactor_->park(conn->fd, conn->deadline);
}

void RecordServer::close_conn(const std::shared_ptr<Conn>& conn) {
  {
    std::lock_guard lock(conns_mu_);
    if (conns_.erase(conn->fd) == 0) return;
  }
  ::shutdown(conn->fd, SHUT_RDWR);
  reactor_->forget(conn->fd, conn->ip);  // conn's destructor closes the socket
}

void RecordServer::worker_loop() {
  for (;;) {
    Task t;
    {
      std::unique_lock lock(mu_);
      task_cv_.wait(lock, [&] { return stop_workers_ || !tasks_.empty(); });
      if (stop_workers_) return;
      t = std::move(tasks_.front());
      tasks_.pop_front();
    }
    run_call(t.conn, t.record, t.queued);
  }
}

void RecordServer::run_call(const std::shared_ptr<Conn>& conn, std::string_view record, Clock::time_point queued) {
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - queued);
  // Reused by the thread's next call; its pins are let go once it is sent.
  thread_local Reply reply;
  if (service_->answer(record, *conn->session, waited, &reply)) (void)conn->send(reply);
  reply.tail.clear();
  reply.pins.clear();
  if (reply.framed.capacity() > (1u << 20)) std::string().swap(reply.framed);
  {
    std::lock_guard lock(conn->mu);
    --conn->inflight;
  }
  conn->cv.notify_one();
}

}  // namespace kiseki::net
