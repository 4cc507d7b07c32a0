// The TCP listening socket of a protocol server, bound from "HOST:PORT" (IPv4);
// the reactor (reactor.h) accepts on it.
#pragma once

#include <cstddef>
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

// Raises this process's open-file limit to its hard limit; returns the limit.
size_t raise_fd_limit();

}  // namespace kiseki
