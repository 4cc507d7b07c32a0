// The drivers: inprocess (the Gateway in this process: the floor), s3 (our own
// SigV4 client over one keep-alive connection per worker) and fs (any mounted
// directory, e.g. a FUSE mount).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>

#include "common/file_util.h"
#include "common/host_port.h"
#include "gateway/gateway.h"
#include "protocols/s3/sigv4.h"
#include "tools/profile/driver.h"

namespace kiseki::profile {
namespace {

// ---------------------------------------------------------------- inprocess

class InprocessDriver final : public Driver {
 public:
  explicit InprocessDriver(DriverOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "inprocess"; }
  Status setup() override {
    gateway::GatewayOptions go;
    go.data_dir = o_.data_dir;
    KISEKI_ASSIGN_OR_RETURN(gw_, gateway::Gateway::open(go));
    KISEKI_ASSIGN_OR_RETURN(TenantId t, gw_->create_tenant("profile"));
    KISEKI_ASSIGN_OR_RETURN(ns_, gw_->create_namespace(t, o_.bucket));
    return Status::ok();
  }
  Result<std::unique_ptr<Session>> session() override;

  DriverOptions o_;
  std::unique_ptr<gateway::Gateway> gw_;
  gateway::NsRef ns_;
};

class InprocessSession final : public Session {
 public:
  explicit InprocessSession(InprocessDriver* d) : d_(d) {}
  Status put(const std::string& key, ByteSpan data) override {
    return d_->gw_->put_object(d_->ns_, key, gateway::source_from(data), {}).status();
  }
  Result<uint64_t> get(const std::string& key) override {
    KISEKI_ASSIGN_OR_RETURN(Bytes b, d_->gw_->get_object(d_->ns_, key, {}, nullptr));
    return b.size();
  }
  Status stat(const std::string& key) override { return d_->gw_->head_object(d_->ns_, key).status(); }
  Result<size_t> list(const std::string& prefix) override {
    gateway::ListRequest r;
    r.prefix = prefix;
    KISEKI_ASSIGN_OR_RETURN(auto res, d_->gw_->list_objects(d_->ns_, r));
    return res.objects.size() + res.common_prefixes.size();
  }

 private:
  InprocessDriver* d_;
};

Result<std::unique_ptr<Session>> InprocessDriver::session() {
  return std::unique_ptr<Session>(new InprocessSession(this));
}

// ---------------------------------------------------------------- s3

struct HttpReply {
  int status = 0;
  uint64_t body_bytes = 0;
  std::string body;  // kept only when small (errors, listings)
};

class S3Session final : public Session {
 public:
  S3Session(const DriverOptions& o, std::string host, uint16_t port)
      : o_(o), host_(std::move(host)), port_(port), host_header_(host_ + ":" + std::to_string(port)) {}
  ~S3Session() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status put(const std::string& key, ByteSpan data) override {
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, request("PUT", "/" + o_.bucket + "/" + key, "", data));
    return check(r, "PUT");
  }
  Result<uint64_t> get(const std::string& key) override {
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, request("GET", "/" + o_.bucket + "/" + key, "", {}));
    KISEKI_TRY(check(r, "GET"));
    return r.body_bytes;
  }
  Status stat(const std::string& key) override {
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, request("HEAD", "/" + o_.bucket + "/" + key, "", {}));
    return check(r, "HEAD");
  }
  Result<size_t> list(const std::string& prefix) override {
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, request("GET", "/" + o_.bucket, "list-type=2&prefix=" + s3::uri_encode(prefix, false), {}));
    KISEKI_TRY(check(r, "LIST"));
    size_t n = 0;
    for (size_t p = r.body.find("<Key>"); p != std::string::npos; p = r.body.find("<Key>", p + 5)) ++n;
    return n;
  }
  Status create_bucket() {
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, request("PUT", "/" + o_.bucket, "", {}));
    // A bucket left from an earlier run is fine: some servers call it "already exists".
    if (r.status == 200 || r.body.find("BucketAlreadyOwnedByYou") != std::string::npos ||
        r.body.find("BucketAlreadyExists") != std::string::npos)
      return Status::ok();
    return check(r, "CreateBucket");
  }

 private:
  static Status check(const HttpReply& r, const char* what) {
    if (r.status >= 200 && r.status < 300) return Status::ok();
    std::string code = "HTTP" + std::to_string(r.status);
    auto a = r.body.find("<Code>"), b = r.body.find("</Code>");
    if (a != std::string::npos && b != std::string::npos) code = r.body.substr(a + 6, b - a - 6);
    ErrorCode ec = r.status == 404 ? ErrorCode::kNotFound
                   : r.status == 503 ? ErrorCode::kUnavailable
                   : r.status >= 500 ? ErrorCode::kIoError
                                     : ErrorCode::kInvalidArgument;
    return make_error(ec, std::string(what) + " " + code);
  }

  Status connect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res) != 0 || !res)
      return make_error(ErrorCode::kUnavailable, "cannot resolve " + host_);
    int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : ::connect(fd, res->ai_addr, res->ai_addrlen);
    ::freeaddrinfo(res);
    if (rc != 0) {
      if (fd >= 0) ::close(fd);
      return make_error(ErrorCode::kUnavailable, "cannot connect to " + host_header_);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    fd_ = fd;
    buf_.clear();
    return Status::ok();
  }

  const crypto::Digest& signing_key(const std::string& date) {
    if (date != key_date_) {
      s3::Credential c{o_.access_key, date, o_.region, "s3"};
      key_ = s3::signing_key(o_.secret_key, c);
      key_date_ = date;
    }
    return key_;
  }

  Result<HttpReply> request(const std::string& method, const std::string& path, const std::string& query,
                            ByteSpan body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) KISEKI_TRY(connect());
      auto r = exchange(method, path, query, body);
      if (r || attempt == 1) return r;
      ::close(fd_);  // a keep-alive connection the server closed: reconnect once
      fd_ = -1;
    }
    return io_error("unreachable");
  }

  Result<HttpReply> exchange(const std::string& method, const std::string& path, const std::string& query,
                             ByteSpan body) {
    char date[32];
    std::time_t now = std::time(nullptr);
    std::tm tm;
    gmtime_r(&now, &tm);
    std::strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    std::map<std::string, std::vector<std::string>> headers = {
        {"host", {host_header_}}, {"x-amz-content-sha256", {std::string(s3::kUnsignedPayload)}}, {"x-amz-date", {date}}};
    static const std::vector<std::string> kSigned = {"host", "x-amz-content-sha256", "x-amz-date"};
    s3::QueryParams q;
    s3::parse_query(query, &q);
    s3::CanonicalInput in{method, path, &q, &headers, &kSigned, s3::kUnsignedPayload};
    s3::Credential cred{o_.access_key, std::string(date, 8), o_.region, "s3"};
    std::string sig = s3::sign_hex(signing_key(cred.date), s3::string_to_sign(date, cred, s3::canonical_request(in)));
    std::string head = method + " " + s3::uri_encode(path, true) + (query.empty() ? "" : "?" + query) +
                       " HTTP/1.1\r\nHost: " + host_header_ + "\r\nx-amz-date: " + date +
                       "\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" +
                       o_.access_key + "/" + cred.scope() +
                       ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + sig +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    iovec iov[2] = {{head.data(), head.size()}, {const_cast<uint8_t*>(body.data()), body.size()}};
    size_t total = head.size() + body.size(), sent = 0;
    while (sent < total) {
      msghdr msg{};
      size_t skip = sent;
      iovec v[2];
      int n = 0;
      for (auto& x : iov) {
        if (skip >= x.iov_len) {
          skip -= x.iov_len;
          continue;
        }
        v[n++] = {static_cast<char*>(x.iov_base) + skip, x.iov_len - skip};
        skip = 0;
      }
      msg.msg_iov = v;
      msg.msg_iovlen = static_cast<size_t>(n);
      ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (w <= 0) return io_error("send failed");
      sent += static_cast<size_t>(w);
    }
    return read_reply(method == "HEAD", method == "GET" && !query.empty());
  }

  Status fill() {
    char tmp[4096];  // headers only: bodies bypass this buffer
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return io_error("connection closed");
    buf_.append(tmp, static_cast<size_t>(n));
    return Status::ok();
  }

  Result<HttpReply> read_reply(bool head_request, bool keep_body) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > (64 << 10)) return io_error("reply header too large");
      KISEKI_TRY(fill());
    }
    HttpReply r;
    if (buf_.size() < 12 || buf_.compare(0, 5, "HTTP/") != 0) return io_error("bad status line");
    r.status = std::atoi(buf_.c_str() + 9);
    uint64_t len = 0;
    bool close_after = false;
    for (size_t p = buf_.find("\r\n") + 2; p < end;) {
      size_t e = buf_.find("\r\n", p);
      std::string_view line(buf_.data() + p, e - p);
      auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        if (name == "content-length") len = std::strtoull(std::string(v).c_str(), nullptr, 10);
        if (name == "connection" && v == "close") close_after = true;
      }
      p = e + 2;
    }
    buf_.erase(0, end + 4);
    if (head_request || r.status == 204 || r.status == 304) len = 0;
    r.body_bytes = len;
    // Object bodies are counted, not kept: recv straight into a sink, one copy.
    bool keep = r.status >= 300 || keep_body;
    uint64_t have = std::min<uint64_t>(buf_.size(), len);
    if (keep) r.body.assign(buf_, 0, have);
    buf_.erase(0, have);
    thread_local char sink[1 << 16];
    for (uint64_t left = len - have; left > 0;) {
      ssize_t n = ::recv(fd_, sink, std::min<uint64_t>(sizeof(sink), left), 0);
      if (n <= 0) return io_error("connection closed in body");
      if (keep) r.body.append(sink, static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
    if (close_after) {
      ::close(fd_);
      fd_ = -1;
    }
    return r;
  }

  DriverOptions o_;
  std::string host_;
  uint16_t port_;
  std::string host_header_;
  int fd_ = -1;
  std::string buf_;
  std::string key_date_;
  crypto::Digest key_{};
};

class S3Driver final : public Driver {
 public:
  explicit S3Driver(DriverOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "s3"; }
  Status setup() override {
    std::string ep = o_.endpoint;
    if (ep.rfind("http://", 0) == 0) ep = ep.substr(7);
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    KISEKI_ASSIGN_OR_RETURN(auto hp, parse_host_port(ep));
    host_ = hp.first;
    port_ = hp.second;
    if (o_.access_key.empty() || o_.secret_key.empty()) return invalid_argument("s3 driver needs --access-key and --secret-key");
    S3Session s(o_, host_, port_);
    return s.create_bucket();
  }
  Result<std::unique_ptr<Session>> session() override {
    return std::unique_ptr<Session>(new S3Session(o_, host_, port_));
  }

 private:
  DriverOptions o_;
  std::string host_;
  uint16_t port_ = 0;
};

// ---------------------------------------------------------------- fs

class FsSession final : public Session {
 public:
  FsSession(std::string root, bool fsync, bool drop_cache)
      : root_(std::move(root)), fsync_(fsync), drop_cache_(drop_cache) {}
  Status put(const std::string& key, ByteSpan data) override {
    std::string p = path(key);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
      KISEKI_TRY(make_dirs(p.substr(0, p.rfind('/'))));
      fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) return errno_status("open " + p, errno);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        int e = errno;
        ::close(fd);
        return errno_status("write " + p, e);
      }
      off += static_cast<size_t>(n);
    }
    if (fsync_ && ::fsync(fd) != 0) {
      int e = errno;
      ::close(fd);
      return errno_status("fsync " + p, e);
    }
    if (::close(fd) != 0) return errno_status("close " + p, errno);
    return Status::ok();
  }
  Result<uint64_t> get(const std::string& key) override {
    std::string p = path(key);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_status("open " + p, errno);
    if (drop_cache_) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    thread_local Bytes buf(1 << 20);
    uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        int e = errno;
        ::close(fd);
        return errno_status("read " + p, e);
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return total;
  }
  Status stat(const std::string& key) override {
    struct stat st;
    return ::stat(path(key).c_str(), &st) == 0 ? Status::ok() : errno_status("stat", errno);
  }
  Result<size_t> list(const std::string& prefix) override {
    std::string dir = path(prefix);
    if (!dir.empty() && dir.back() == '/') dir.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno_status("opendir " + dir, errno);
    size_t n = 0;
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    return n;
  }

 private:
  std::string path(const std::string& key) const { return root_ + "/" + key; }
  std::string root_;
  bool fsync_, drop_cache_;
};

class FsDriver final : public Driver {
 public:
  explicit FsDriver(DriverOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "fs"; }
  Status setup() override {
    if (o_.path.empty()) return invalid_argument("fs driver needs --path (a mounted directory)");
    return make_dirs(o_.path + "/" + o_.bucket);
  }
  Result<std::unique_ptr<Session>> session() override {
    return std::unique_ptr<Session>(new FsSession(o_.path + "/" + o_.bucket, o_.fs_fsync, o_.fs_drop_cache));
  }

 private:
  DriverOptions o_;
};

}  // namespace

Result<std::unique_ptr<Driver>> make_driver(const std::string& name, const DriverOptions& opts) {
  if (name == "inprocess") return std::unique_ptr<Driver>(new InprocessDriver(opts));
  if (name == "s3") return std::unique_ptr<Driver>(new S3Driver(opts));
  if (name == "fs") return std::unique_ptr<Driver>(new FsDriver(opts));
  if (name == "nfs3") return make_nfs3_driver(opts);
  if (name == "native") return make_native_driver(opts);
  return invalid_argument("unknown driver '" + name + "' (inprocess, s3, fs, nfs3, native)");
}

}  // namespace kiseki::profile
