#include "cluster/raft_transport.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include <openssl/crypto.h>

#include "common/bytes.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "crypto/primitives.h"

namespace kiseki::cluster {

namespace {
constexpr char kMagic[4] = {'K', 'R', 'F', 'T'};
constexpr uint8_t kVersion = 1;
constexpr size_t kFixedHello = 4 + 1 + 8 + 8 + 2;
constexpr size_t kNonce = 32, kProof = 32;
constexpr uint64_t kHandshakeMs = 5000;

std::string proof(const crypto::SecretKey& key, bool server, uint64_t shard, std::string_view nonce_c,
                  std::string_view nonce_s, uint64_t prover) {
  std::string msg = server ? "kiseki-raft-server" : "kiseki-raft-client";
  Encoder(&msg).u64(shard).raw(nonce_c).raw(nonce_s).u64(prover);
  auto d = crypto::hmac_sha256(key.span(), as_bytes(msg));
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string nonce() {
  std::string n(kNonce, '\0');
  crypto::random_bytes({reinterpret_cast<uint8_t*>(n.data()), n.size()});
  return n;
}

std::string sockaddr_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

bool socket_names(int fd, std::string* local, std::string* remote) {
  sockaddr_storage a{}, b{};
  socklen_t la = sizeof a, lb = sizeof b;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &la) != 0) return false;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&b), &lb) != 0) return false;
  *local = sockaddr_text(a);
  *remote = sockaddr_text(b);
  return true;
}
}  // namespace

// One shard's raft_uv_transport.
struct RaftTransportHub::Shard {
  RaftTransportHub* hub = nullptr;
  raft_uv_transport* t = nullptr;
  uint64_t shard = 0;
  raft_id id = 0;
  std::string address;
  raft_uv_accept_cb accept_cb = nullptr;
  bool closing = false;
  int handshakes = 0;
  raft_uv_transport_close_cb close_cb = nullptr;
  uv_timer_t close_timer{};
};

// One stream being opened or accepted, until it passes or fails.
struct RaftTransportHub::Handshake {
  enum Phase { kConnecting, kHelloFixed, kHelloRest, kServerProof, kClientProof, kAccepted, kDone };
  RaftTransportHub* hub = nullptr;
  Shard* shard = nullptr;  // null for an accepted stream until its hello names one
  bool outgoing = false;
  Phase phase = kConnecting;
  uint64_t peer = 0;
  std::string peer_address;
  uv_tcp_t* tcp = nullptr;  // raft_malloc'd: libraft frees it once the stream is its own
  uv_timer_t timer{};
  uv_connect_t connect{};
  int open_handles = 0;
  int writes = 0;
  bool handed_off = false;
  int fail_status = 0;
  std::string nonce_c, nonce_s;
  std::string in;   // the bytes the current step reads (exactly these many)
  size_t got = 0;   // how many of them have arrived
  std::vector<std::unique_ptr<std::string>> out;  // buffers of writes in flight
  raft_uv_connect* req = nullptr;
  raft_uv_connect_cb cb = nullptr;
  bool ready_to_hand = false;  // the last step is done; waiting for writes to finish

  static Handshake* of(uv_handle_t* h) { return static_cast<Handshake*>(h->data); }

  void read(size_t n) {
    in.assign(n, '\0');
    got = 0;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = of(h);
          b->base = self->in.data() + self->got;
          b->len = self->in.size() - self->got;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
          auto* self = of(reinterpret_cast<uv_handle_t*>(s));
          if (n < 0) return self->fail(RAFT_NOCONNECTION, n == UV_EOF ? "closed" : uv_strerror(static_cast<int>(n)));
          self->got += static_cast<size_t>(n);
          if (self->got < self->in.size()) return;
          uv_read_stop(s);
          self->step();
        });
  }

  void write(std::string bytes) {
    out.push_back(std::make_unique<std::string>(std::move(bytes)));
    auto* req = new uv_write_t;
    req->data = this;
    uv_buf_t b = uv_buf_init(out.back()->data(), static_cast<unsigned>(out.back()->size()));
    ++writes;
    int rv = uv_write(req, reinterpret_cast<uv_stream_t*>(tcp), &b, 1, [](uv_write_t* w, int status) {
      auto* self = static_cast<Handshake*>(w->data);
      delete w;
      --self->writes;
      if (status != 0) return self->fail(RAFT_NOCONNECTION, uv_strerror(status));
      self->maybe_hand_off();
    });
    if (rv != 0) {
      delete req;
      --writes;
      fail(RAFT_NOCONNECTION, uv_strerror(rv));
    }
  }

  // Runs the step whose bytes have all arrived.
  void step() {
    const auto& key = hub->opts_.key;
    switch (phase) {
      case kHelloFixed: {  // server: the hello's fixed part
        if (std::memcmp(in.data(), kMagic, 4) != 0 || static_cast<uint8_t>(in[4]) != kVersion)
          return fail(RAFT_MALFORMED, "not a Kiseki Raft stream");
        auto* p = reinterpret_cast<const uint8_t*>(in.data());
        uint64_t shard_id = get_be64(p + 5);
        peer = get_be64(p + 13);
        size_t n = (size_t{p[21]} << 8) | p[22];
        auto it = hub->shards_.find(shard_id);
        if (it == hub->shards_.end() || it->second->closing || !it->second->accept_cb)
          return fail(RAFT_NOCONNECTION, "shard " + std::to_string(shard_id) + " is not served here");
        if (peer == 0 || peer == hub->opts_.node_id) return fail(RAFT_MALFORMED, "bad node id");
        shard = it->second;
        ++shard->handshakes;
        phase = kHelloRest;
        return read(n + kNonce);
      }
      case kHelloRest: {  // server: the client's address and nonce; prove ourselves
        peer_address = in.substr(0, in.size() - kNonce);
        nonce_c = in.substr(in.size() - kNonce);
        if (hub->opts_.faults && hub->opts_.faults->cut(peer)) return fail(RAFT_NOCONNECTION, "cut off (test faults)");
        nonce_s = nonce();
        write(nonce_s + proof(key, true, shard->shard, nonce_c, nonce_s, hub->opts_.node_id));
        phase = kClientProof;
        return read(kProof);
      }
      case kClientProof: {  // server: the client's proof
        std::string want = proof(key, false, shard->shard, nonce_c, nonce_s, peer);
        if (CRYPTO_memcmp(want.data(), in.data(), kProof) != 0) {
          KLOG_WARN("raft: a stream from {} claiming node {} failed to prove the cluster secret", peer_address, peer);
          return fail(RAFT_UNAUTHORIZED, "wrong cluster secret");
        }
        write(std::string(1, '\x01'));
        phase = kAccepted;
        ready_to_hand = true;
        return maybe_hand_off();
      }
      case kServerProof: {  // client: the server's nonce and proof
        nonce_s = in.substr(0, kNonce);
        std::string want = proof(key, true, shard->shard, nonce_c, nonce_s, peer);
        if (CRYPTO_memcmp(want.data(), in.data() + kNonce, kProof) != 0) {
          KLOG_WARN("raft: {} does not prove the cluster secret as node {}", peer_address, peer);
          return fail(RAFT_UNAUTHORIZED, "wrong cluster secret");
        }
        write(proof(key, false, shard->shard, nonce_c, nonce_s, hub->opts_.node_id));
        phase = kAccepted;
        return read(1);
      }
      case kAccepted:  // client: the server's verdict
        if (in[0] != 1) return fail(RAFT_UNAUTHORIZED, "refused");
        ready_to_hand = true;
        return maybe_hand_off();
      default:
        return fail(RAFT_MALFORMED, "handshake out of order");
    }
  }

  // Once the last step is done and our writes have left: the stream is libraft's.
  void maybe_hand_off() {
    if (!ready_to_hand || writes != 0 || handed_off || fail_status != 0) return;
    handed_off = true;
    phase = kDone;
    uv_timer_stop(&timer);
    tcp->data = nullptr;
    hub->established(tcp, peer);
    auto* stream = reinterpret_cast<uv_stream_t*>(tcp);
    tcp = nullptr;
    --open_handles;  // the stream is libraft's to close
    if (outgoing) {
      auto c = cb;
      cb = nullptr;
      c(req, stream, 0);
    } else {
      shard->accept_cb(shard->t, peer, peer_address.c_str(), stream);
    }
    close_handles();
  }

  void fail(int status, const std::string& why) {
    if (fail_status != 0 || handed_off) return;
    fail_status = status;
    (void)why;
    KLOG_DEBUG("raft: stream {} node {}: {}", outgoing ? "to" : "from", peer, why);
    close_handles();
  }

  void close_handles() {
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&timer), [](uv_handle_t* h) { of(h)->closed(); });
    }
    if (tcp && !uv_is_closing(reinterpret_cast<uv_handle_t*>(tcp))) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* h) {
        Handshake* self = of(h);
        raft_free(h);
        self->tcp = nullptr;
        self->closed();
      });
    }
  }

  void closed() {
    if (--open_handles > 0) return;
    if (outgoing && cb) {
      auto c = cb;
      cb = nullptr;
      c(req, nullptr, fail_status ? fail_status : RAFT_CANCELED);
    }
    hub->forget(this);
  }
};

RaftTransportHub::RaftTransportHub(uv_loop_t* loop, RaftTransportOptions opts) : loop_(loop), opts_(std::move(opts)) {}

RaftTransportHub::~RaftTransportHub() = default;

Status RaftTransportHub::start() {
  KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(opts_.listen));
  sockaddr_in addr{};
  if (uv_ip4_addr(hp.first.c_str(), hp.second, &addr) != 0)
    return invalid_argument("Raft address " + opts_.listen + " is not IPv4:PORT");
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  ++open_handles_;
  int rv = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rv == 0)
    rv = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<RaftTransportHub*>(s->data)->on_accept();
    });
  if (rv != 0) return io_error("Raft listen on " + opts_.listen + ": " + uv_strerror(rv));
  listening_ = true;
  uv_timer_init(loop_, &tick_);
  tick_.data = this;
  ++open_handles_;
  uv_timer_start(&tick_, [](uv_timer_t* t) { static_cast<RaftTransportHub*>(t->data)->on_tick(); }, 50, 50);
  return Status::ok();
}

void RaftTransportHub::close(std::function<void()> done) {
  closing_ = true;
  on_closed_ = std::move(done);
  for (Handshake* h : std::set<Handshake*>(handshakes_)) h->fail(RAFT_CANCELED, "closing");
  auto closed = [](uv_handle_t* h) {
    auto* hub = static_cast<RaftTransportHub*>(h->data);
    --hub->open_handles_;
    hub->maybe_closed();
  };
  if (listening_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), closed);
  }
  maybe_closed();
}

void RaftTransportHub::maybe_closed() {
  if (closing_ && open_handles_ == 0 && handshakes_.empty() && on_closed_) {
    auto f = std::move(on_closed_);
    on_closed_ = nullptr;
    f();
  }
}

void RaftTransportHub::forget(Handshake* h) {
  if (h->shard) {
    Shard* s = h->shard;
    if (--s->handshakes == 0 && s->closing && s->close_cb) {
      auto cb = s->close_cb;
      s->close_cb = nullptr;
      cb(s->t);
      delete s;
    }
  }
  handshakes_.erase(h);
  delete h;
  maybe_closed();
}

void RaftTransportHub::on_accept() {
  auto* h = new Handshake;
  h->hub = this;
  h->outgoing = false;
  h->tcp = static_cast<uv_tcp_t*>(raft_malloc(sizeof(uv_tcp_t)));
  uv_tcp_init(loop_, h->tcp);
  h->tcp->data = h;
  uv_timer_init(loop_, &h->timer);
  h->timer.data = h;
  h->open_handles = 2;
  handshakes_.insert(h);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_), reinterpret_cast<uv_stream_t*>(h->tcp)) != 0 || closing_)
    return h->fail(RAFT_NOCONNECTION, "accept failed");
  uv_tcp_nodelay(h->tcp, 1);
  uv_timer_start(&h->timer, [](uv_timer_t* t) { Handshake::of(reinterpret_cast<uv_handle_t*>(t))->fail(RAFT_NOCONNECTION, "handshake timed out"); },
                 kHandshakeMs, 0);
  h->phase = Handshake::kHelloFixed;
  h->read(kFixedHello);
}

void RaftTransportHub::established(uv_tcp_t* tcp, uint64_t peer) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) return;
  Stream s{fd, peer, {}, {}};
  if (socket_names(fd, &s.local, &s.remote)) streams_.push_back(std::move(s));
}

void RaftTransportHub::on_tick() {
  // Forget streams that are gone; cut those to isolated nodes. A descriptor
  // whose addresses changed belongs to another socket now: never touched.
  for (auto it = streams_.begin(); it != streams_.end();) {
    std::string local, remote;
    if (!socket_names(it->fd, &local, &remote) || local != it->local || remote != it->remote) {
      it = streams_.erase(it);
      continue;
    }
    if (opts_.faults && opts_.faults->cut(it->peer)) {
      ::shutdown(it->fd, SHUT_RDWR);
      it = streams_.erase(it);
      continue;
    }
    ++it;
  }
}

namespace {
RaftTransportHub::Shard* shard_of(raft_uv_transport* t) { return static_cast<RaftTransportHub::Shard*>(t->impl); }
}  // namespace

void RaftTransportHub::make_transport(raft_uv_transport* t, uint64_t shard) {
  auto* s = new Shard;
  s->hub = this;
  s->t = t;
  s->shard = shard;
  t->impl = s;
  t->init = [](raft_uv_transport* t, raft_id id, const char* address) {
    shard_of(t)->id = id;
    shard_of(t)->address = address;
    return 0;
  };
  t->listen = [](raft_uv_transport* t, raft_uv_accept_cb cb) {
    Shard* s = shard_of(t);
    s->accept_cb = cb;
    s->hub->shards_[s->shard] = s;
    return 0;
  };
  t->connect = [](raft_uv_transport* t, raft_uv_connect* req, raft_id id, const char* address,
                  raft_uv_connect_cb cb) {
    Shard* s = shard_of(t);
    RaftTransportHub* hub = s->hub;
    auto hp = parse_host_port(address);
    sockaddr_in addr{};
    if (!hp || uv_ip4_addr(hp->first.c_str(), hp->second, &addr) != 0) return RAFT_NOCONNECTION;
    if (s->closing || hub->closing_) return RAFT_CANCELED;
    auto* h = new Handshake;
    h->hub = hub;
    h->shard = s;
    h->outgoing = true;
    h->peer = id;
    h->peer_address = address;
    h->req = req;
    h->cb = cb;
    h->tcp = static_cast<uv_tcp_t*>(raft_malloc(sizeof(uv_tcp_t)));
    uv_tcp_init(hub->loop_, h->tcp);
    h->tcp->data = h;
    uv_timer_init(hub->loop_, &h->timer);
    h->timer.data = h;
    h->open_handles = 2;
    ++s->handshakes;
    hub->handshakes_.insert(h);
    uv_timer_start(&h->timer, [](uv_timer_t* tm) { Handshake::of(reinterpret_cast<uv_handle_t*>(tm))->fail(RAFT_NOCONNECTION, "handshake timed out"); },
                   kHandshakeMs, 0);
    if (hub->opts_.faults && hub->opts_.faults->cut(id)) {
      h->fail(RAFT_NOCONNECTION, "cut off (test faults)");
      return 0;
    }
    h->connect.data = h;
    int rv = uv_tcp_connect(&h->connect, h->tcp, reinterpret_cast<const sockaddr*>(&addr), [](uv_connect_t* c, int status) {
      auto* h = static_cast<Handshake*>(c->data);
      if (status != 0) return h->fail(RAFT_NOCONNECTION, uv_strerror(status));
      if (h->fail_status != 0) return;
      uv_tcp_nodelay(h->tcp, 1);
      const std::string& self = h->shard->address;
      std::string hello(kMagic, 4);
      Encoder e(&hello);
      e.u8(kVersion).u64(h->shard->shard).u64(h->hub->opts_.node_id);
      e.u8(static_cast<uint8_t>(self.size() >> 8)).u8(static_cast<uint8_t>(self.size() & 0xff)).raw(self);
      h->nonce_c = nonce();
      e.raw(h->nonce_c);
      h->write(std::move(hello));
      h->phase = Handshake::kServerProof;
      h->read(kNonce + kProof);
    });
    if (rv != 0) h->fail(RAFT_NOCONNECTION, uv_strerror(rv));
    return 0;
  };
  t->close = [](raft_uv_transport* t, raft_uv_transport_close_cb cb) {
    Shard* s = shard_of(t);
    RaftTransportHub* hub = s->hub;
    s->closing = true;
    s->close_cb = cb;
    hub->shards_.erase(s->shard);
    for (Handshake* h : std::set<Handshake*>(hub->handshakes_))
      if (h->shard == s) h->fail(RAFT_CANCELED, "transport closing");
    if (s->handshakes == 0) {
      // libraft expects the callback later, not from inside close.
      s->close_timer.data = s;
      uv_timer_init(hub->loop_, &s->close_timer);
      uv_timer_start(&s->close_timer, [](uv_timer_t* tm) {
        uv_close(reinterpret_cast<uv_handle_t*>(tm), [](uv_handle_t* h) {
          Shard* s = static_cast<Shard*>(h->data);
          if (auto cb = s->close_cb) {
            s->close_cb = nullptr;
            cb(s->t);
          }
          delete s;
        });
      }, 0, 0);
    }
  };
}

}  // namespace kiseki::cluster
