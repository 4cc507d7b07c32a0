// The TCP listening socket of a protocol server: bound from "HOST:PORT" (IPv4),
// and accept() that rides out transient errors (EINTR, ECONNABORTED, fd limits).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

#include "common/status.h"

namespace kiseki {

struct TcpListener {
  int fd = -1;
  uint16_t port = 0;  // the bound port (the kernel's choice for port 0)
};

// kPermissionDenied for a privileged port without the right, kUnavailable if in use.
Result<TcpListener> listen_tcp(const std::string& host_port, const std::string& what);

// The next connection (TCP_NODELAY set), or -1 once the socket was shut down.
int accept_tcp(int listen_fd, sockaddr_in* peer = nullptr);

}  // namespace kiseki
