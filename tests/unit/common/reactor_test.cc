// The reactor (accept within limits, park, ready, deadlines), the client limits
// and the thread pool, on real loopback sockets.
#include "common/reactor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <set>

#include "common/tcp_listener.h"

namespace kiseki {
namespace {

int connect_from(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &a.sin_addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Whether the server closed `fd` within `ms` (recv sees the end, or a reset
// when the server closed with bytes unread).
bool closed_by_server(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char c;
  ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST(ClientLimits, PerClientAndInAll) {
  ClientLimits l(3, 2);
  EXPECT_TRUE(l.admit(1));
  EXPECT_TRUE(l.admit(1));
  EXPECT_FALSE(l.admit(1)) << "a third from one address";
  EXPECT_TRUE(l.admit(2));
  EXPECT_FALSE(l.admit(3)) << "past the limit in all";
  l.release(1);
  EXPECT_TRUE(l.admit(3));
  EXPECT_EQ(l.open(), 3u);
}

struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::set<int> ready, expired;
  int refused = 0;
  void wait(const std::function<bool()>& done) {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), done));
  }
};

TEST(Reactor, ParksCallsBackAndEnforcesLimitsAndDeadlines) {
  auto l = listen_tcp("127.0.0.1:0", "test");
  ASSERT_TRUE(l.is_ok());
  Seen seen;
  Reactor* r = nullptr;
  std::map<int, uint32_t> ips;  // touched on the reactor thread only
  Reactor::Callbacks cb;
  cb.accepted = [&](int fd, uint32_t ip, uint16_t) {
    ips[fd] = ip;
    r->park(fd, Reactor::Clock::now() + std::chrono::milliseconds(300));
  };
  cb.refused = [&](int) {
    std::lock_guard lock(seen.mu);
    ++seen.refused;
    seen.cv.notify_all();
  };
  auto done = [&](std::set<int> Seen::*which) {
    return [&, which](int fd) {
      r->forget(fd, ips[fd]);
      ::close(fd);
      std::lock_guard lock(seen.mu);
      (seen.*which).insert(fd);
      seen.cv.notify_all();
    };
  };
  cb.ready = done(&Seen::ready);
  cb.expired = done(&Seen::expired);
  auto reactor = Reactor::create(l->fd, {"test", 16, 2}, cb);
  ASSERT_TRUE(reactor.is_ok());
  r = reactor->get();
  r->run();

  int talker = connect_from("127.0.0.2", l->port);
  ASSERT_EQ(::send(talker, "x", 1, 0), 1);
  seen.wait([&] { return seen.ready.size() == 1; });
  EXPECT_TRUE(closed_by_server(talker, 2000));

  int quiet = connect_from("127.0.0.3", l->port);
  int second = connect_from("127.0.0.3", l->port);
  int third = connect_from("127.0.0.3", l->port);  // past 2 per address
  seen.wait([&] { return seen.refused == 1; });
  EXPECT_TRUE(closed_by_server(third, 2000));
  seen.wait([&] { return seen.expired.size() == 2; });  // the two silent ones, at their deadline
  EXPECT_TRUE(closed_by_server(quiet, 3000));
  EXPECT_TRUE(closed_by_server(second, 3000));
  EXPECT_EQ(seen.ready.size(), 1u) << "an expired connection is not also ready";
  EXPECT_EQ(r->open(), 0u);
  r->stop();
  for (int fd : {talker, quiet, second, third}) ::close(fd);
}

}  // namespace
}  // namespace kiseki
