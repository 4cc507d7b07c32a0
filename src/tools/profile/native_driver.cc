// kiseki-profile's native driver: Kiseki's native protocol through libkiseki,
// one client (one connection) per worker, objects named by key. The floor of
// the protocol under kiseki mount. --endpoint HOST:PORT (the server's
// --native-listen); the bucket must exist (the s3 driver's setup, or
// `kiseki namespace create`).
#include "client/client.h"
#include "tools/profile/driver.h"

namespace kiseki::profile {

namespace {

class NativeSession final : public Session {
 public:
  NativeSession(std::unique_ptr<client::Client> c, NamespaceId ns) : c_(std::move(c)), ns_(ns) {}
  Status put(const std::string& key, ByteSpan data) override {
    return c_->put_object(ns_, key, as_string_view(data)).status();
  }
  Result<uint64_t> get(const std::string& key) override {
    KISEKI_ASSIGN_OR_RETURN(std::string body, c_->get_object(ns_, key, 0, std::nullopt));
    return body.size();
  }
  Status stat(const std::string& key) override { return c_->head_object(ns_, key).status(); }
  Result<size_t> list(const std::string& prefix) override {
    gateway::ListRequest req;
    req.prefix = prefix;
    req.delimiter = "/";
    KISEKI_ASSIGN_OR_RETURN(gateway::ListResult r, c_->list_objects(ns_, req));
    return r.objects.size() + r.common_prefixes.size();
  }

 private:
  std::unique_ptr<client::Client> c_;
  NamespaceId ns_;
};

class NativeDriver final : public Driver {
 public:
  explicit NativeDriver(DriverOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "native"; }
  Status setup() override { return session().status(); }
  Result<std::unique_ptr<Session>> session() override {
    client::ClientOptions co;
    co.endpoint = o_.endpoint;
    co.access_key = o_.access_key;
    co.secret_key = o_.secret_key;
    co.connections = 1;
    KISEKI_ASSIGN_OR_RETURN(auto c, client::Client::connect(co));
    auto m = c->mount(o_.bucket);
    if (!m) return Status(m.status().code(), "bucket " + o_.bucket + ": " + m.status().message());
    return std::unique_ptr<Session>(new NativeSession(std::move(c), m->ns));
  }

 private:
  DriverOptions o_;
};

}  // namespace

std::unique_ptr<Driver> make_native_driver(const DriverOptions& opts) {
  return std::unique_ptr<Driver>(new NativeDriver(opts));
}

}  // namespace kiseki::profile
