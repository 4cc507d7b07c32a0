#include "common/tcp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/host_port.h"

namespace kiseki {

Result<TcpListener> listen_tcp(const std::string& host_port, const std::string& what) {
  KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(host_port));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(hp.second);
  std::string host = hp.first == "localhost" ? "127.0.0.1" : hp.first;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return invalid_argument(what + " listen address must be IPv4: " + host_port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_status("socket", errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 1024) != 0) {
    int e = errno;
    ::close(fd);
    return make_error(e == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                      what + ": listen on " + host_port + ": " + std::strerror(e));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return TcpListener{fd, ntohs(addr.sin_port)};
}

size_t raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  if (r.rlim_cur < r.rlim_max) {
    rlimit want = r;
    want.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  return r.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(r.rlim_cur);
}

}  // namespace kiseki
