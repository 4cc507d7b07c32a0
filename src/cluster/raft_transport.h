// The Raft groups' transport: libraft's uv I/O sends its messages over TCP
// streams that this transport opens and accepts, on one port per node for
// every shard (--cluster-listen's port + 1). libraft's stock TCP transport
// takes any peer that names itself; this one lets a stream through only when
// both ends have proved the cluster secret, for the shard named:
//
//   client → server  "KRFT" · u8 version 1 · u64 shard · u64 client id · u16 n · client address (n B) · 32 B nonce c
//   server → client  32 B nonce s · 32 B HMAC(k, "kiseki-raft-server" · shard · c · s · server id)
//   client → server  32 B HMAC(k, "kiseki-raft-client" · shard · c · s · client id)
//   server → client  u8 1 (accepted; from here the stream is libraft's)
//
// k is derived from the cluster secret (ClusterKeys::fabric). Every read takes
// exactly the bytes of its step, so nothing of libraft's messages is consumed.
// A FaultSwitch (tests) refuses streams with cut-off nodes and shuts those
// already open.
//
// Everything here runs on the raft host's loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>
}

#include "cluster/fault_switch.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::cluster {

struct RaftTransportOptions {
  uint64_t node_id = 0;
  std::string listen;  // "a.b.c.d:port"
  crypto::SecretKey key;
  const FaultSwitch* faults = nullptr;
};

class RaftTransportHub {
 public:
  RaftTransportHub(uv_loop_t* loop, RaftTransportOptions opts);
  ~RaftTransportHub();
  // Binds and listens (on the loop thread, or before the loop runs).
  Status start();
  // Stops listening and drops handshakes in flight; `done` once every handle is closed.
  void close(std::function<void()> done);

  // Makes `t` the transport of shard `shard`'s group (for raft_uv_init).
  void make_transport(raft_uv_transport* t, uint64_t shard);

  struct Handshake;
  struct Shard;

 private:
  friend struct Handshake;
  void on_accept();
  void on_tick();
  // A stream that passed its handshake: remembered so that a fault switch can
  // cut it later (its socket's addresses tell a reused descriptor apart).
  void established(uv_tcp_t* tcp, uint64_t peer);
  void forget(Handshake* h);
  void maybe_closed();

  uv_loop_t* loop_;
  RaftTransportOptions opts_;
  uv_tcp_t listener_{};
  uv_timer_t tick_{};
  bool listening_ = false, closing_ = false;
  int open_handles_ = 0;
  std::function<void()> on_closed_;
  std::map<uint64_t, Shard*> shards_;
  std::set<Handshake*> handshakes_;
  struct Stream {
    int fd;
    uint64_t peer;
    std::string local, remote;  // getsockname / getpeername at hand-off
  };
  std::vector<Stream> streams_;
};

}  // namespace kiseki::cluster
