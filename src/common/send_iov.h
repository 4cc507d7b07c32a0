// Sending a list of buffers on a non-blocking socket: one sendmsg at a time,
// the list moved past what each one sent. Callers choose how to wait for room.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>

namespace kiseki {

enum class SendResult {
  kDone,     // everything is sent
  kPartial,  // some of it (or an interrupted call): send again at once
  kNoRoom,   // the socket's buffer is full: wait until it is writable
  kError,
};

// One sendmsg (MSG_NOSIGNAL | MSG_DONTWAIT) of what is left of (*v, *n),
// skipping empty buffers; *v and *n are moved past what it sent.
inline SendResult send_some(int fd, iovec** v, size_t* n) {
  while (*n > 0 && (*v)->iov_len == 0) {
    ++*v;
    --*n;
  }
  if (*n == 0) return SendResult::kDone;
  msghdr msg{};
  msg.msg_iov = *v;
  msg.msg_iovlen = std::min<size_t>(*n, IOV_MAX);
  ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno == EINTR) return SendResult::kPartial;
    return errno == EAGAIN || errno == EWOULDBLOCK ? SendResult::kNoRoom : SendResult::kError;
  }
  for (auto left = static_cast<size_t>(w); left > 0;) {
    size_t k = std::min(left, (*v)->iov_len);
    (*v)->iov_base = static_cast<char*>((*v)->iov_base) + k;
    (*v)->iov_len -= k;
    left -= k;
    if ((*v)->iov_len == 0) {
      ++*v;
      --*n;
    }
  }
  return *n == 0 ? SendResult::kDone : SendResult::kPartial;
}

}  // namespace kiseki
