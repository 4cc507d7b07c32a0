#include "server/admin_api.h"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include "common/metrics.h"
#include "protocols/s3/handler.h"
#include "protocols/s3/sigv4.h"
#include "server/admin_json.h"
#include "server/console.h"

namespace kiseki::server {

namespace json = boost::json;

http::status http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return http::status::ok;
    case ErrorCode::kNotFound: case ErrorCode::kStale: return http::status::not_found;
    case ErrorCode::kExists: case ErrorCode::kConflict: case ErrorCode::kNotEmpty: return http::status::conflict;
    case ErrorCode::kInvalidArgument: case ErrorCode::kNameTooLong: case ErrorCode::kNotDirectory:
    case ErrorCode::kIsDirectory: return http::status::bad_request;
    case ErrorCode::kPermissionDenied: case ErrorCode::kNotPermitted: return http::status::forbidden;
    case ErrorCode::kPreconditionFailed: return http::status::precondition_failed;
    case ErrorCode::kCryptoShredded: return http::status::gone;
    case ErrorCode::kNoSpace: case ErrorCode::kQuotaExceeded: return http::status::insufficient_storage;
    case ErrorCode::kUnavailable: return http::status::service_unavailable;
    case ErrorCode::kTimeout: return http::status::gateway_timeout;
    case ErrorCode::kNotSupported: return http::status::not_implemented;
    case ErrorCode::kCorruption: case ErrorCode::kIoError: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response reply(http::status st, const json::value& body) {
  Response r{st, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = json::serialize(body);
  r.body().push_back('\n');
  return r;
}

Response error(const Status& s) {
  return reply(http_status_for(s.code()),
               json::object{{"error", std::string(error_code_name(s.code()))}, {"message", s.message()}});
}

Result<json::object> body_object(const Request& req) {
  if (req.body().empty()) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) return invalid_argument("request body must be a JSON object");
  return v.as_object();
}

Result<std::string> string_field(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return invalid_argument("field '" + std::string(key) + "' (string) is required");
  return std::string(v->as_string());
}

namespace {

Response text(http::status st, std::string body, std::string_view type = "text/plain; charset=utf-8") {
  Response r{st, 11};
  r.set(http::field::content_type, type);
  r.body() = std::move(body);
  return r;
}

std::vector<std::string> split_path(std::string_view target) {
  auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    // Each segment percent-decoded, so a name with any byte can be named again.
    std::string part;
    if (slash > start && s3::uri_decode(target.substr(start, slash - start), &part)) parts.push_back(std::move(part));
    else if (slash > start) parts.emplace_back(target.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// Nanoseconds since the epoch as ISO 8601 UTC ("2026-12-02T01:30:00Z").
std::string iso8601(int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::object counts_json(const gateway::UsageCounts& c) {
  return {{"files", c.files}, {"dirs", c.dirs}, {"logical_bytes", c.logical_bytes}, {"chunks", c.chunks},
          {"chunk_bytes", c.chunk_bytes}, {"inline_files", c.inline_files}, {"inline_bytes", c.inline_bytes},
          {"versions", c.versions}, {"version_bytes", c.version_bytes},
          {"stored_bytes", c.stored_bytes()}};
}

json::object protocol_json(const ProtocolSample& p) {
  return {{"ops_per_s", p.ops_per_s}, {"bytes_in_per_s", p.bytes_in_per_s}, {"bytes_out_per_s", p.bytes_out_per_s},
          {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}};
}

json::object tenant_json(const gateway::TenantInfo& t) {
  return {{"id", t.id}, {"name", t.name}, {"shredded", t.shredded}, {"shared_dedup", t.shared_dedup}};
}

// An access key without its secret; "user" only for a user's key.
json::object key_json(const gateway::AccessKey& k, const std::string& tenant) {
  json::object o{{"access_key_id", k.access_key_id}, {"tenant", tenant}};
  if (!k.user.empty()) o["user"] = k.user;
  return o;
}

json::object ns_json(const gateway::NamespaceInfo& n) {
  return {{"id", n.ref.ns}, {"tenant_id", n.ref.tenant}, {"name", n.name}, {"public_read", n.public_read},
          {"created_ns", n.created_ns}, {"created", iso8601(n.created_ns)},
          {"durability", n.durability ? n.durability->name() : "local"}};
}

}  // namespace

AdminApi::AdminApi(gateway::Gateway* gw, nfs::ExportTable* exports)
    : gw_(gw), exports_(exports), started_ms_(unix_ms()) {}

Response AdminApi::handle(const Request& req) {
  auto parts = split_path(req.target());
  bool api = parts.size() >= 1 && parts[0] == "api";
  // The console page itself is open even with protect_all: it holds no data and
  // is where a browser signs in.
  bool page = req.method() == http::verb::get &&
              (parts.empty() || (parts.size() == 1 && (parts[0] == "ui" || parts[0] == "favicon.ico")));
  if (guard_ && (api || (protect_all_ && !page))) {
    bool changes = req.method() != http::verb::get && req.method() != http::verb::head;
    auto verdict =
        guard_->check(req[http::field::authorization], req[http::field::host], req[http::field::origin], changes);
    if (verdict == AdminGuard::kUnauthorized) {
      Response r = reply(http::status::unauthorized,
                         json::object{{"error", "Unauthorized"},
                                      {"message", "missing or wrong admin token (see DATA/admin-token)"}});
      r.set(http::field::www_authenticate, "Bearer realm=\"kiseki\"");
      return r;
    }
    if (verdict == AdminGuard::kReadOnly)
      return reply(http::status::forbidden,
                   json::object{{"error", "Forbidden"}, {"message", "the read-only token cannot change anything"}});
    if (verdict == AdminGuard::kForeign)
      return reply(http::status::forbidden,
                   json::object{{"error", "Forbidden"},
                                {"message", "the Host must be this server's address or localhost, and no foreign Origin"}});
  }
  if (page && (parts.empty() || parts[0] == "ui")) {
    // The console page holds no data: what it shows comes from /api with a token.
    Response r = text(http::status::ok, std::string(console_page()), "text/html; charset=utf-8");
    r.set(http::field::cache_control, "no-store");
    r.set("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
          "img-src 'self'; frame-ancestors 'none'");
    r.set("X-Content-Type-Options", "nosniff");
    return r;
  }
  if (parts.size() == 1 && req.method() == http::verb::get) {
    if (parts[0] == "favicon.ico") return Response{http::status::no_content, 11};
    if (parts[0] == "health") return text(http::status::ok, "ok\n");
    if (parts[0] == "ready") {
      if (!ready_) return text(http::status::service_unavailable, "starting\n");
      // A node that refuses writes is not ready: take it out of service.
      if (std::string f = gw_->write_fault(); !f.empty()) return text(http::status::service_unavailable, "failed: " + f + "\n");
      // Serving, but damage was found (at start or by the last scrub): say so
      // (the status stays 200: the rest of the data serves).
      if (auto why = degraded()) return text(http::status::ok, "degraded: " + *why + "\n");
      return text(http::status::ok, "ready\n");
    }
    if (parts[0] == "metrics")
      return text(http::status::ok, MetricsRegistry::global().expose(), "text/plain; version=0.0.4");
  }
  if (parts.size() >= 2 && parts[0] == "api" && parts[1] == "v1") return route_api(req, parts);
  return error(not_found("no route " + std::string(req.method_string()) + " " + std::string(req.target())));
}

Response AdminApi::route_api(const Request& req, const std::vector<std::string>& p) {
  auto m = req.method();
  size_t n = p.size();
  auto tenant_by_name = [&](const std::string& name) { return gw_->find_tenant(name); };

  if (n == 3 && p[2] == "tenants") {
    if (m == http::verb::get) {
      json::array a;
      for (const auto& t : gw_->list_tenants()) a.push_back(tenant_json(t));
      return reply(http::status::ok, a);
    }
    if (m == http::verb::post) {
      auto body = body_object(req);
      if (!body) return error(body.status());
      auto name = string_field(*body, "name");
      if (!name) return error(name.status());
      bool shared_dedup = false;
      if (auto* v = body->if_contains("shared_dedup")) {
        if (!v->is_bool()) return error(invalid_argument("field 'shared_dedup' must be true or false"));
        shared_dedup = v->as_bool();
      }
      auto id = gw_->create_tenant(*name, shared_dedup);
      if (!id) return error(id.status());
      return reply(http::status::created, tenant_json(*gw_->get_tenant(*id)));
    }
  }
  if (n >= 4 && p[2] == "tenants") {
    auto t = tenant_by_name(p[3]);
    if (!t) return error(t.status());
    if (n == 4 && m == http::verb::get) return reply(http::status::ok, tenant_json(*t));
    if (n == 5 && p[4] == "shred" && m == http::verb::post) {
      Status st = gw_->shred_tenant(t->id);
      if (!st) return error(st);
      return reply(http::status::ok, tenant_json(*gw_->get_tenant(t->id)));
    }
    if (n == 5 && p[4] == "namespaces") {
      if (m == http::verb::get) {
        json::array a;
        for (const auto& ns : gw_->list_namespaces(t->id)) a.push_back(ns_json(ns));
        return reply(http::status::ok, a);
      }
      if (m == http::verb::post) {
        auto body = body_object(req);
        if (!body) return error(body.status());
        auto name = string_field(*body, "name");
        if (!name) return error(name.status());
        // A namespace is a bucket: a name S3 could not address is refused here too.
        if (!s3::valid_bucket_name(*name))
          return error(invalid_argument("namespace name '" + *name +
                                        "' is not a valid bucket name: 3..63 of a-z 0-9 . -, starting and ending "
                                        "with a letter or digit"));
        bool public_read = false;
        if (auto* v = body->if_contains("public_read"); v && v->is_bool()) public_read = v->as_bool();
        std::optional<Redundancy> durability;
        if (auto* v = body->if_contains("durability"); v && !v->is_null()) {
          if (!v->is_string()) return error(invalid_argument("field 'durability' must be a string: replicas=N or ec=K+M"));
          auto r = Redundancy::parse(v->as_string());
          if (!r) return error(r.status());
          durability = *r;
        }
        auto ref = gw_->create_namespace(t->id, *name, public_read, durability);
        if (!ref) return error(ref.status());
        return reply(http::status::created, ns_json(*gw_->get_namespace(ref->ns)));
      }
    }
    if (n == 6 && p[4] == "namespaces") {
      if (m == http::verb::get) {
        auto ns = gw_->find_namespace(t->id, p[5]);
        return ns ? reply(http::status::ok, ns_json(*ns)) : error(ns.status());
      }
      if (m == http::verb::delete_) {
        Status st = gw_->delete_namespace(t->id, p[5]);
        return st ? reply(http::status::ok, json::object{{"deleted", p[5]}}) : error(st);
      }
    }
    if (n == 5 && p[4] == "keys" && m == http::verb::get) {
      auto keys = gw_->list_access_keys(t->id);
      if (!keys) return error(keys.status());
      json::array a;
      for (const auto& k : *keys) a.push_back(key_json(k, t->name));
      return reply(http::status::ok, a);
    }
    if (n == 5 && p[4] == "keys" && m == http::verb::post) {
      std::string user;  // {"user": NAME}: a key of that user
      if (!req.body().empty()) {
        auto body = body_object(req);
        if (!body) return error(body.status());
        if (auto* v = body->if_contains("user")) {
          if (!v->is_string()) return error(invalid_argument("field 'user' must be a string"));
          user = std::string(v->as_string());
        }
      }
      auto k = gw_->create_access_key(t->id, user);
      if (!k) return error(k.status());
      json::object o = key_json(*k, t->name);
      o["secret_key"] = k->secret_key;
      return reply(http::status::created, o);
    }
    if (n == 5 && p[4] == "users" && m == http::verb::get) {
      auto users = gw_->list_users(t->id);
      if (!users) return error(users.status());
      auto keys = gw_->list_access_keys(t->id);
      if (!keys) return error(keys.status());
      json::array a;
      for (const auto& u : *users) {
        json::array ids;
        for (const auto& k : *keys)
          if (k.user == u.name) ids.push_back(json::value(k.access_key_id));
        a.push_back(json::object{{"name", u.name}, {"tenant", t->name}, {"created", iso8601(u.created_ns)},
                                 {"access_keys", ids}});
      }
      return reply(http::status::ok, a);
    }
    if (n == 5 && p[4] == "users" && m == http::verb::post) {
      auto body = body_object(req);
      if (!body) return error(body.status());
      auto name = string_field(*body, "name");
      if (!name) return error(name.status());
      Status st = gw_->create_user(t->id, *name);
      if (!st) return error(st);
      return reply(http::status::created, json::object{{"name", *name}, {"tenant", t->name}});
    }
    if (n == 6 && p[4] == "users" && m == http::verb::delete_) {
      Status st = gw_->delete_user(t->id, p[5]);
      return st ? reply(http::status::ok, json::object{{"deleted", p[5]}}) : error(st);
    }
  }
  if (n == 3 && p[2] == "keys" && m == http::verb::get) {
    json::array a;
    for (const auto& t : gw_->list_tenants()) {
      if (t.shredded) continue;
      auto keys = gw_->list_access_keys(t.id);
      if (!keys) return error(keys.status());
      for (const auto& k : *keys) a.push_back(key_json(k, t.name));
    }
    return reply(http::status::ok, a);
  }
  if (n == 3 && p[2] == "usage" && m == http::verb::get) return usage(req);
  if (n == 3 && p[2] == "status" && m == http::verb::get) return status();
  if (n >= 3 && p[2] == "cluster") return route_cluster(req, p);
  if (n == 3 && p[2] == "stats" && m == http::verb::get) {
    json::array a;
    if (stats_)
      for (const auto& smp : stats_->samples())
        a.push_back(json::object{{"unix_ms", smp.unix_ms}, {"s3", protocol_json(smp.s3)}, {"nfs", protocol_json(smp.nfs)}});
    return reply(http::status::ok,
                 json::object{{"interval_ms", stats_ ? stats_->interval_ms() : 0}, {"samples", a}});
  }
  if (n == 3 && p[2] == "backup" && m == http::verb::post) return backup(req);
  if (n == 4 && p[2] == "keys" && m == http::verb::delete_) {
    Status st = gw_->delete_access_key(p[3]);
    return st ? reply(http::status::ok, json::object{{"deleted", p[3]}}) : error(st);
  }
  if (n >= 4 && p[2] == "nfs" && p[3] == "exports") return route_exports(req, p);
  if (n == 3 && p[2] == "scrub" && m == http::verb::post) return scrub();
  if (n == 4 && p[2] == "lifecycle" && p[3] == "run" && m == http::verb::post) return run_lifecycle(req);
  if (n == 3 && p[2] == "compact" && m == http::verb::post) {
    auto r = gw_->compact();
    if (!r) return error(r.status());
    return reply(http::status::ok, json::object{{"segments_removed", *r}});
  }
  return error(not_found("no route " + std::string(req.method_string()) + " " + std::string(req.target())));
}

// POST /api/v1/lifecycle/run [{"now_unix": S}]: one pass of the lifecycle
// rules now (or, on a server started with --test-faults, as of S).
Response AdminApi::run_lifecycle(const Request& req) {
  if (!lifecycle_) return error(make_error(ErrorCode::kNotSupported, "S3 is off: no lifecycle rules run here"));
  int64_t now = lifecycle_->clock().now_ns();
  if (!req.body().empty()) {
    auto body = body_object(req);
    if (!body) return error(body.status());
    if (auto* v = body->if_contains("now_unix")) {
      if (!lifecycle_test_clock_)
        return error(make_error(ErrorCode::kNotPermitted, "now_unix is for tests: start the server with --test-faults"));
      if (!v->is_int64()) return error(invalid_argument("field 'now_unix' must be seconds since the epoch"));
      now = v->as_int64() * 1'000'000'000;
    }
  }
  auto r = lifecycle_->run_once(now);
  return reply(http::status::ok, json::object{{"buckets", r.buckets}, {"expired", r.expired}, {"aborted", r.aborted},
                                              {"errors", r.errors}, {"now_unix", now / 1'000'000'000}});
}

// GET /api/v1/usage[?max_age=S]: a scan of the metadata; with max_age, an answer
// computed within the last S seconds serves again (the console refreshes often).
Response AdminApi::usage(const Request& req) {
  std::string_view target = req.target();
  int64_t max_age_ms = 0;
  if (auto q = target.find("max_age="); q != std::string_view::npos) {
    // Seconds, at most a day (a longer one would overflow the milliseconds).
    int64_t s = std::atoll(std::string(target.substr(q + 8)).c_str());
    max_age_ms = std::clamp<int64_t>(s, 0, 86400) * 1000;
  }
  std::lock_guard lock(usage_mu_);
  if (max_age_ms > 0 && !usage_json_.empty() && unix_ms() - usage_at_ms_ <= max_age_ms) {
    return text(http::status::ok, usage_json_, "application/json");
  }
  auto u = gw_->usage();
  if (!u) return error(u.status());
  json::array tenants, namespaces;
  std::map<TenantId, std::string> names;
  for (const auto& t : u->tenants) {
    names[t.tenant.id] = t.tenant.name;
    json::object o = counts_json(t.counts);
    o["id"] = t.tenant.id;
    o["name"] = t.tenant.name;
    o["shared_dedup"] = t.tenant.shared_dedup;
    tenants.push_back(std::move(o));
  }
  for (const auto& n : u->namespaces) {
    json::object o = counts_json(n.counts);
    o["tenant"] = names[n.ns.ref.tenant];
    o["name"] = n.ns.name;
    o["public_read"] = n.ns.public_read;
    o["created"] = iso8601(n.ns.created_ns);
    namespaces.push_back(std::move(o));
  }
  usage_json_ = json::serialize(
                    json::object{{"tenants", tenants}, {"namespaces", namespaces}, {"total", counts_json(u->total)}}) +
                "\n";
  usage_at_ms_ = unix_ms();
  return text(http::status::ok, usage_json_, "application/json");
}

std::optional<std::string> AdminApi::degraded() {
  if (std::string d = gw_->damage_at_open(); !d.empty()) return "at start: " + d;
  std::lock_guard lock(scrub_mu_);
  if (scrub_damage_.empty()) return std::nullopt;
  return scrub_damage_;
}

Response AdminApi::status() {
  json::object ep;
  for (const auto& [k, v] : info_.endpoints) ep[k] = v;
  json::object o{{"version", info_.version},       {"ready", ready_.load()},
                 {"uptime_s", (unix_ms() - started_ms_) / 1000}, {"started", iso8601(started_ms_ * 1000000)},
                 {"durability", info_.durability}, {"endpoints", ep}};
  if (auto f = gw_->statfs())
    o["capacity"] = json::object{{"total_bytes", f->total_bytes}, {"free_bytes", f->free_bytes},
                                 {"avail_bytes", f->avail_bytes}};
  else
    o["capacity"] = json::object{{"total_bytes", 0}, {"free_bytes", 0}, {"avail_bytes", 0}};
  auto why = degraded();
  o["degraded"] = why ? json::value(*why) : json::value(nullptr);
  std::string fault = gw_->write_fault();
  o["write_fault"] = fault.empty() ? json::value(nullptr) : json::value(fault);
  std::lock_guard lock(scrub_mu_);
  o["last_scrub"] = last_scrub_ ? json::parse(*last_scrub_) : json::value(nullptr);
  return reply(http::status::ok, o);
}

// Scrub verifies the chunks on disk; what lives inline in the metadata is
// counted beside it (RocksDB's block checksums guard those bytes).
Response AdminApi::scrub() {
  auto r = gw_->scrub();
  json::array problems;
  for (const auto& s : r.problems) problems.push_back(json::string(s));
  json::array repaired;
  for (const auto& s : r.repaired) repaired.push_back(json::string(s));
  json::object o{{"segments", r.segments}, {"chunks", r.records}, {"records", r.records}, {"bytes", r.bytes},
                 {"problems", problems}, {"repaired", repaired}, {"finished", unix_ms()}};
  if (auto u = gw_->usage()) {
    o["inline_files"] = u->total.inline_files;
    o["inline_bytes"] = u->total.inline_bytes;
    o["files"] = u->total.files;
  } else {
    problems.push_back(json::string("usage scan: " + u.status().to_string()));
    o["problems"] = problems;
  }
  const auto& found = o["problems"].as_array();
  auto& m = MetricsRegistry::global();
  m.gauge("kiseki_scrub_problems", "Problems the last scrub found")->set(static_cast<int64_t>(found.size()));
  m.gauge("kiseki_scrub_last_run_timestamp_seconds", "When the last scrub finished (Unix time)")->set(unix_ms() / 1000);
  std::lock_guard lock(scrub_mu_);
  last_scrub_ = json::serialize(o);
  scrub_damage_ = found.empty() ? std::string()
                                : "the last scrub found " + std::to_string(found.size()) + " problems, the first: " +
                                      std::string(found[0].as_string()) + " (kiseki scrub lists them)";
  return reply(http::status::ok, o);
}

// POST /api/v1/backup {"dir": "/abs/path"}: the directory is on the server's host.
Response AdminApi::backup(const Request& req) {
  auto body = body_object(req);
  if (!body) return error(body.status());
  auto dir = string_field(*body, "dir");
  if (!dir) return error(dir.status());
  auto r = gw_->backup(*dir);
  if (!r) return error(r.status());
  return reply(http::status::ok, json::object{{"dir", *dir}, {"files", r->files}, {"bytes", r->bytes}});
}

// GET  /api/v1/nfs/exports                        every export and its options
// PUT  /api/v1/nfs/exports/TENANT/NS {"options": "ro,clients=10.0.0.0/8"}
// DELETE /api/v1/nfs/exports/TENANT/NS              back to the defaults (or unexported)
Response AdminApi::route_exports(const Request& req, const std::vector<std::string>& p) {
  if (!exports_) return error(make_error(ErrorCode::kUnavailable, "NFS is off on this server"));
  auto m = req.method();
  if (p.size() == 4 && m == http::verb::get) {
    json::array a;
    for (const auto& e : exports_->list())
      a.push_back(json::object{{"path", e.path}, {"options", e.opts.to_string()}, {"configured", e.configured}});
    return reply(http::status::ok, a);
  }
  if (p.size() != 6) return error(not_found("no route " + std::string(req.target())));
  std::string path = "/" + p[4] + "/" + p[5];
  if (m == http::verb::put) {
    auto body = body_object(req);
    if (!body) return error(body.status());
    std::string text;
    if (auto* v = body->if_contains("options"); v && v->is_string()) text = std::string(v->as_string());
    auto o = nfs::parse_export_options(text);
    if (!o) return error(o.status());
    Status st = exports_->put(path, *o);
    if (!st) return error(st);
    return reply(http::status::ok, json::object{{"path", path}, {"options", o->to_string()}, {"configured", true}});
  }
  if (m == http::verb::delete_) {
    Status st = exports_->remove(path);
    return st ? reply(http::status::ok, json::object{{"deleted", path}}) : error(st);
  }
  return error(not_found("no route " + std::string(req.method_string()) + " " + std::string(req.target())));
}

}  // namespace kiseki::server
