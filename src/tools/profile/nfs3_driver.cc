// kiseki-profile's nfs3 driver: NFSv3 through libnfs's asynchronous API. Each
// worker owns an nfs_context (its own TCP connection) and runs its calls from
// its own event loop, so concurrency N keeps N calls in flight on N
// connections, as N kernel client threads would. Works against any NFSv3
// server: --endpoint nfs://HOST/EXPORT?nfsport=P&mountport=M&version=3.
#include <fcntl.h>
#include <nfsc/libnfs.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "tools/profile/driver.h"

namespace kiseki::profile {

namespace {

// One outstanding call: libnfs's callback fills it; the loop waits for `done`.
struct Pending {
  bool done = false;
  int err = 0;
  void* data = nullptr;
  Bytes copy;  // READ's bytes, copied out before libnfs frees its buffer
  bool want_copy = false;
};

// Calls answered JUKEBOX and asked again (reported when the driver goes).
std::atomic<uint64_t> jukebox_retries{0};

void on_done(int err, nfs_context*, void* data, void* priv) {
  auto* p = static_cast<Pending*>(priv);
  p->err = err;
  p->data = data;
  if (p->want_copy && err > 0) p->copy.assign(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + err);
  p->done = true;
}

class Nfs3Session final : public Session {
 public:
  explicit Nfs3Session(std::string dir) : dir_(std::move(dir)) {}
  ~Nfs3Session() override {
    if (ctx_) nfs_destroy_context(ctx_);
  }
  Status connect(const std::string& url_text, bool dircache) {
    ctx_ = nfs_init_context();
    if (!ctx_) return make_error(ErrorCode::kUnavailable, "nfs_init_context failed");
    nfs_set_dircache(ctx_, dircache ? 1 : 0);
    nfs_set_timeout(ctx_, 10000);  // a call the server never answers fails (no endless wait)
    nfs_url* url = nfs_parse_url_dir(ctx_, url_text.c_str());
    if (!url) return invalid_argument("bad NFS URL " + url_text + ": " + nfs_get_error(ctx_));
    Pending p;
    int r = nfs_mount_async(ctx_, url->server, url->path, on_done, &p);
    std::string where = std::string(url->server) + ":" + url->path;
    nfs_destroy_url(url);
    if (r != 0) return make_error(ErrorCode::kUnavailable, "mount " + where + ": " + nfs_get_error(ctx_));
    KISEKI_TRY(wait(&p, "mount " + where));
    return Status::ok();
  }

  Status put(const std::string& key, ByteSpan data) override {
    std::string path = dir_ + key;
    Pending c;
    auto create = [&](Pending* q) {
      return nfs_create_async(ctx_, path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644, on_done, q);
    };
    Status st = call(create, "create " + path, &c);
    if (!st && st.code() == ErrorCode::kNotFound) {  // the parent directories first
      KISEKI_TRY(make_parents(path));
      st = call(create, "create " + path, &c);
    }
    KISEKI_TRY(st);
    auto* fh = static_cast<nfsfh*>(c.data);
    if (!data.empty()) {
      Pending w;
      st = call([&](Pending* q) { return nfs_pwrite_async(ctx_, fh, 0, data.size(), data.data(), on_done, q); },
                "write " + path, &w);
      if (st && static_cast<size_t>(w.err) != data.size()) st = io_error("short write to " + path);
    }
    Pending cl;
    Status cst = close(fh, "close " + path, &cl);
    return st ? cst : st;
  }

  Result<uint64_t> get(const std::string& key) override {
    std::string path = dir_ + key;
    Pending o;
    KISEKI_TRY(call([&](Pending* q) { return nfs_open_async(ctx_, path.c_str(), O_RDONLY, on_done, q); },
                    "open " + path, &o));
    auto* fh = static_cast<nfsfh*>(o.data);
    uint64_t total = 0;
    Status st;
    for (;;) {
      Pending r;
      r.want_copy = true;
      st = call([&](Pending* q) { return nfs_pread_async(ctx_, fh, total, 1 << 20, on_done, q); }, "read " + path, &r);
      if (!st) break;
      total += static_cast<uint64_t>(r.err);
      if (r.err < (1 << 20)) break;  // short: the end of the file
    }
    Pending cl;
    (void)close(fh, "close " + path, &cl);
    KISEKI_TRY(st);
    return total;
  }

  Status stat(const std::string& key) override {
    std::string path = dir_ + key;
    Pending p;
    return call([&](Pending* q) { return nfs_stat64_async(ctx_, path.c_str(), on_done, q); }, "stat " + path, &p);
  }

  Result<size_t> list(const std::string& prefix) override {
    std::string path = dir_ + prefix;
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    Pending p;
    KISEKI_TRY(call([&](Pending* q) { return nfs_opendir_async(ctx_, path.c_str(), on_done, q); }, "opendir " + path, &p));
    auto* dir = static_cast<nfsdir*>(p.data);
    size_t n = 0;
    while (nfsdirent* e = nfs_readdir(ctx_, dir))
      if (std::strcmp(e->name, ".") && std::strcmp(e->name, "..")) ++n;
    nfs_closedir(ctx_, dir);
    return n;
  }

 private:
  Status queue_error(const std::string& what) {
    return make_error(ErrorCode::kUnavailable, what + ": " + nfs_get_error(ctx_));
  }
  // Issues a call (`issue` queues it, with `p` for the callback) and waits for
  // it. A server that answers JUKEBOX (libnfs: -EAGAIN) is asked again after a
  // pause, as kernel clients do (RFC 1813: retry the request later), for up to
  // a minute; the pauses count in the operation's latency.
  Status call(const std::function<int(Pending*)>& issue, const std::string& what, Pending* p) {
    auto pause = std::chrono::milliseconds(50);
    auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (;;) {
      bool copy = p->want_copy;
      *p = Pending{};
      p->want_copy = copy;
      if (issue(p) != 0) return queue_error(what);
      Status st = wait(p, what);
      if (p->err != -EAGAIN || std::chrono::steady_clock::now() > give_up) return st;
      jukebox_retries.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
  }
  // Not asked again: libnfs frees the handle whatever the answer.
  Status close(nfsfh* fh, const std::string& what, Pending* p) {
    if (nfs_close_async(ctx_, fh, on_done, p) != 0) return queue_error(what);
    return wait(p, what);
  }
  // Runs the context's event loop until `p` completes.
  Status wait(Pending* p, const std::string& what) {
    while (!p->done) {
      pollfd pfd{nfs_get_fd(ctx_), static_cast<short>(nfs_which_events(ctx_)), 0};
      int r = ::poll(&pfd, 1, 1000);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return errno_status("poll", errno);
      if (nfs_service(ctx_, pfd.revents) < 0)
        return make_error(ErrorCode::kUnavailable, what + ": " + nfs_get_error(ctx_));
    }
    if (p->err >= 0) return Status::ok();
    ErrorCode code = p->err == -ENOENT ? ErrorCode::kNotFound
                     : p->err == -EEXIST ? ErrorCode::kExists
                                         : ErrorCode::kIoError;
    return make_error(code, what + ": " + nfs_get_error(ctx_));
  }
  Status make_parents(const std::string& path) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      std::string dir = path.substr(0, slash);
      Pending m;
      Status st = call([&](Pending* q) { return nfs_mkdir_async(ctx_, dir.c_str(), on_done, q); }, "mkdir " + dir, &m);
      if (!st && st.code() != ErrorCode::kExists) return st;
    }
    return Status::ok();
  }

  std::string dir_;  // "/BUCKET/" inside the export
  nfs_context* ctx_ = nullptr;
};

class Nfs3Driver final : public Driver {
 public:
  explicit Nfs3Driver(DriverOptions o) : o_(std::move(o)) {}
  ~Nfs3Driver() override {
    if (uint64_t n = jukebox_retries.exchange(0))
      std::fprintf(stderr, "nfs3: %llu calls answered JUKEBOX and were asked again\n", static_cast<unsigned long long>(n));
  }
  std::string name() const override { return "nfs3"; }
  Status setup() override {
    if (o_.endpoint.rfind("nfs://", 0) != 0)
      return invalid_argument("nfs3 driver needs --endpoint nfs://HOST/EXPORT?nfsport=P&mountport=M&version=3");
    return Status::ok();
  }
  Result<std::unique_ptr<Session>> session() override {
    auto s = std::make_unique<Nfs3Session>("/" + o_.bucket + "/");
    KISEKI_TRY(s->connect(o_.endpoint, o_.nfs_dircache));
    return std::unique_ptr<Session>(std::move(s));
  }

 private:
  DriverOptions o_;
};

}  // namespace

std::unique_ptr<Driver> make_nfs3_driver(const DriverOptions& opts) { return std::make_unique<Nfs3Driver>(opts); }

}  // namespace kiseki::profile
