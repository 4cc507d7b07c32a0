#include "protocols/nfs/rpc_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/crc32c.h"
#include "common/tcp_listener.h"
#include "common/logging.h"

namespace kiseki::nfs {

// ---- dispatcher

std::optional<std::string> RpcDispatcher::handle(std::string_view record, const ClientInfo& client) {
  ParsedCall pc = parse_call(record);
  std::string reply(4, '\0');  // the record mark, filled in at the end
  const uint32_t xid = pc.header.xid;
  auto frame = [&reply]() {
    uint32_t len = static_cast<uint32_t>(reply.size() - 4) | 0x80000000u;
    put_be32(reinterpret_cast<uint8_t*>(reply.data()), len);
    return std::move(reply);
  };
  switch (pc.error) {
    case CallError::kNone: break;
    case CallError::kGarbage:
    case CallError::kNotCall: return std::nullopt;
    case CallError::kRpcMismatch: reply += rpc_mismatch_reply(xid); return frame();
    case CallError::kBadCred: reply += auth_error_reply(xid, AuthStat::kBadCred); return frame();
    case CallError::kUnsupportedAuth: reply += auth_error_reply(xid, AuthStat::kRejectedCred); return frame();
  }
  const CallHeader& h = pc.header;
  auto it = programs_.find(h.prog);
  if (it == programs_.end()) {
    reply += accepted_reply(xid, AcceptStat::kProgUnavail);
    return frame();
  }
  RpcProgram* prog = it->second;
  if (h.vers < prog->min_version() || h.vers > prog->max_version()) {
    reply += accepted_reply(xid, AcceptStat::kProgMismatch, prog->min_version(), prog->max_version());
    return frame();
  }
  if (h.proc != 0 && h.flavor != AuthFlavor::kSys && prog->needs_auth_sys(h.proc)) {
    reply += auth_error_reply(xid, AuthStat::kTooWeak);
    return frame();
  }
  std::optional<DrcKey> key;
  if (!prog->idempotent(h.proc)) {
    key = DrcKey{client.ip, client.port, xid, h.prog, h.vers, h.proc, crc32c(pc.args.data(), pc.args.size()),
                 static_cast<uint32_t>(pc.args.size())};
    std::string cached;
    switch (drc_.begin(*key, &cached)) {
      case DuplicateRequestCache::State::kNew: break;
      case DuplicateRequestCache::State::kInProgress: return std::nullopt;
      case DuplicateRequestCache::State::kReplay: return cached;
    }
  }
  reply += accepted_reply(xid, AcceptStat::kSuccess);
  AcceptStat st;
  try {
    st = prog->call(RpcCall{h, pc.args, client}, &reply);
  } catch (const std::exception& e) {
    KLOG_ERROR("rpc prog {} proc {}: {}", h.prog, h.proc, e.what());
    st = AcceptStat::kSystemErr;
  }
  if (st != AcceptStat::kSuccess) {
    reply.resize(4);
    reply += accepted_reply(xid, st);
  }
  std::string framed = frame();
  if (key) drc_.finish(*key, framed);
  return framed;
}

bool RpcDispatcher::may_block(std::string_view record) const {
  if (record.size() < 24) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(record.data());
  auto it = programs_.find(get_be32(p + 12));
  return it != programs_.end() && it->second->may_block(get_be32(p + 20));
}

// ---- server

namespace {
bool bytes_pending(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}
}  // namespace

struct RpcServer::Conn {
  int fd = -1;
  ClientInfo client;
  std::mutex write_mu;  // one reply on the wire at a time
  std::mutex mu;        // guards inflight
  std::condition_variable cv;
  size_t inflight = 0;
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  bool send(const std::string& framed) {
    std::lock_guard lock(write_mu);
    const char* p = framed.data();
    size_t n = framed.size();
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
};

Result<std::unique_ptr<RpcServer>> RpcServer::start(RpcDispatcher* dispatcher, const RpcServerOptions& opts) {
  std::unique_ptr<RpcServer> s(new RpcServer(dispatcher, opts));
  s->conns_ = std::make_unique<ConnectionTracker>(
      opts.max_connections, MetricsRegistry::global().gauge("kiseki_rpc_open_connections", "Open ONC RPC connections",
                                                            {{"listener", opts.name}}));
  KISEKI_ASSIGN_OR_RETURN(TcpListener l, listen_tcp(opts.listen, opts.name));
  s->listen_fd_ = l.fd;
  s->port_ = l.port;
  for (size_t i = 0; i < std::max<size_t>(1, opts.workers); ++i)
    s->workers_.emplace_back([p = s.get()] { p->worker_loop(); });
  s->acceptor_ = std::thread([p = s.get()] { p->accept_loop(); });
  return s;
}

RpcServer::~RpcServer() { stop(); }

void RpcServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  conns_->close_all();
  {
    std::lock_guard lock(mu_);
    stop_workers_ = true;
  }
  task_cv_.notify_all();
  for (auto& w : workers_) w.join();
  tasks_.clear();
}

void RpcServer::accept_loop() {
  while (!stopping_) {
    sockaddr_in peer{};
    int fd = accept_tcp(listen_fd_, &peer);
    if (fd < 0) break;  // listen socket shut down
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    conn->client.ip = ntohl(peer.sin_addr.s_addr);
    conn->client.port = ntohs(peer.sin_port);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
    conn->client.addr = text;
    if (!conns_->add(fd)) continue;  // conn's destructor closes fd
    std::thread([this, conn] { read_loop(conn); }).detach();
  }
}

void RpcServer::read_loop(std::shared_ptr<Conn> conn) {
  RecordReader reader;
  std::string buf(256 << 10, '\0');
  for (;;) {
    ssize_t n = ::recv(conn->fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!reader.feed(std::string_view(buf.data(), static_cast<size_t>(n)))) {
      KLOG_WARN("{}: {} sent an oversized RPC record; closing", opts_.name, conn->client.addr);
      break;
    }
    bool closing = false;
    std::optional<std::string> rec = reader.next();
    while (rec) {
      std::optional<std::string> following = reader.next();
      std::unique_lock lock(conn->mu);
      conn->cv.wait(lock, [&] { return conn->inflight < opts_.max_inflight_per_connection || stopping_; });
      if (stopping_) {
        closing = true;
        break;
      }
      ++conn->inflight;
      // A lone call runs here unless it may wait on the disk while more calls
      // are already arriving (a client with many in flight): those must not
      // queue behind an fsync.
      bool inline_call = !following && conn->inflight == 1 &&
                         (!dispatcher_->may_block(*rec) || !bytes_pending(conn->fd));
      lock.unlock();
      if (inline_call) {
        // The only call of a client that waits for each reply, and a quick
        // one: answer it on this thread, with no hand-off to a worker and back.
        run_call(conn, *rec);
      } else {
        std::lock_guard tl(mu_);
        tasks_.push_back(Task{conn, std::move(*rec)});
        task_cv_.notify_one();
      }
      rec = std::move(following);
    }
    if (closing) break;
  }
  ::shutdown(conn->fd, SHUT_RDWR);
  conns_->remove(conn->fd);  // last touch of `this`: stop() may return now
}

void RpcServer::worker_loop() {
  for (;;) {
    Task t;
    {
      std::unique_lock lock(mu_);
      task_cv_.wait(lock, [&] { return stop_workers_ || !tasks_.empty(); });
      if (stop_workers_) return;
      t = std::move(tasks_.front());
      tasks_.pop_front();
    }
    run_call(t.conn, t.record);
  }
}

void RpcServer::run_call(const std::shared_ptr<Conn>& conn, std::string_view record) {
  if (auto reply = dispatcher_->handle(record, conn->client)) (void)conn->send(*reply);
  {
    std::lock_guard lock(conn->mu);
    --conn->inflight;
  }
  conn->cv.notify_one();
}

}  // namespace kiseki::nfs
