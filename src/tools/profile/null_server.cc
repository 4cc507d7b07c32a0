#include "tools/profile/null_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "common/host_port.h"

namespace kiseki::profile {

static void serve_conn(int fd, const std::string& object) {
  std::string buf;
  char tmp[65536];
  std::string list = "<ListBucketResult>";
  for (int i = 0; i < 100; ++i) list += "<Contents><Key>list/e" + std::to_string(i) + "</Key></Contents>";
  list += "</ListBucketResult>";
  for (;;) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    uint64_t len = 0;
    for (size_t p = 0; (p = head.find('\n', p)) != std::string::npos; ++p)
      if (strncasecmp(head.c_str() + p + 1, "content-length:", 15) == 0) len = std::strtoull(head.c_str() + p + 16, nullptr, 10);
    while (buf.size() < len) {
      ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
    buf.erase(0, len);
    bool get = head.compare(0, 4, "GET ") == 0, is_head = head.compare(0, 5, "HEAD ") == 0;
    bool listing = get && head.find("list-type=2") != std::string::npos;
    const std::string& body = listing ? list : object;
    std::string reply = "HTTP/1.1 200 OK\r\nETag: \"0\"\r\nContent-Length: " +
                        std::to_string(get || is_head ? body.size() : 0) + "\r\n\r\n";
    if (get) reply += body;
    size_t off = 0;
    while (off < reply.size()) {
      ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
}

Status serve_null(const std::string& listen, uint64_t object_size) {
  KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(listen));
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(hp.second);
  ::inet_pton(AF_INET, hp.first == "localhost" ? "127.0.0.1" : hp.first.c_str(), &a.sin_addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(lfd, 256) != 0)
    return errno_status("listen " + listen, errno);
  std::printf("null S3 responder on %s\n", listen.c_str());
  std::fflush(stdout);
  std::string object(object_size, 'x');
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread([fd, &object] {
      serve_conn(fd, object);
      ::close(fd);
    }).detach();
  }
}

}  // namespace kiseki::profile
