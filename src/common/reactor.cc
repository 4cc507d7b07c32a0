#include "common/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vector>

#include "common/tcp_listener.h"

namespace kiseki {

Reactor::Reactor(int listen_fd, const ReactorOptions& opts, Callbacks cb, size_t cap)
    : listen_fd_(listen_fd), opts_(opts), cb_(std::move(cb)), limits_(cap, opts.max_connections_per_client) {
  auto& m = MetricsRegistry::global();
  open_gauge_ = m.gauge("kiseki_open_connections", "Open connections", {{"listener", opts.name}});
  refused_ = m.counter("kiseki_refused_connections_total",
                       "Connections refused at the limit in all or per client address", {{"listener", opts.name}});
}

Result<std::unique_ptr<Reactor>> Reactor::create(int listen_fd, const ReactorOptions& opts, Callbacks cb) {
  // Room for the store's own files besides the connections.
  size_t fds = raise_fd_limit();
  size_t cap = std::min(opts.max_connections, fds > 1024 ? fds - 512 : size_t{64});
  std::unique_ptr<Reactor> r(new Reactor(listen_fd, opts, std::move(cb), cap));
  ::fcntl(listen_fd, F_SETFL, ::fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  r->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  r->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->epoll_fd_ < 0 || r->wake_fd_ < 0) return errno_status(opts.name + ": epoll", errno);
  for (int fd : {listen_fd, r->wake_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(r->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_status(opts.name + ": epoll", errno);
  }
  return r;
}

void Reactor::run() { thread_ = std::thread([this] { loop(); }); }

Reactor::~Reactor() {
  stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Reactor::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void Reactor::park(int fd, Clock::time_point deadline, bool want_write) {
  {
    std::lock_guard lock(mu_);
    parked_.insert_or_assign(fd, deadline);
  }
  epoll_event ev{};
  ev.events = (want_write ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void Reactor::forget(int fd, uint32_t ip) {
  {
    std::lock_guard lock(mu_);
    parked_.erase(fd);
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  limits_.release(ip);
  open_gauge_->add(-1);
}

void Reactor::loop() {
  epoll_event evs[256];
  auto next_sweep = Clock::now() + std::chrono::seconds(1);
  while (!stopping_) {
    int n = ::epoll_wait(epoll_fd_, evs, 256, 500);
    for (int i = 0; i < n && !stopping_; ++i) {
      int fd = evs[i].data.fd;
      if (fd == wake_fd_) return;
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      {
        std::lock_guard lock(mu_);
        if (parked_.erase(fd) == 0) continue;  // forgotten meanwhile
      }
      cb_.ready(fd);
    }
    if (Clock::now() >= next_sweep) {
      sweep();
      next_sweep = Clock::now() + std::chrono::seconds(1);
    }
  }
}

void Reactor::accept_all() {
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return;  // EAGAIN: nothing more to take
    }
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    uint32_t ip = ntohl(peer.sin_addr.s_addr);
    if (!limits_.admit(ip)) {
      refused_->inc();
      if (cb_.refused) cb_.refused(fd);
      ::close(fd);
      continue;
    }
    open_gauge_->add(1);
    cb_.accepted(fd, ip, ntohs(peer.sin_port));
  }
}

void Reactor::sweep() {
  std::vector<int> expired;
  auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (it->second < now) {
        expired.push_back(it->first);
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int fd : expired) {
    epoll_event ev{};
    ev.data.fd = fd;  // disarmed: ready() will not also come
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    cb_.expired(fd);
  }
}

}  // namespace kiseki
