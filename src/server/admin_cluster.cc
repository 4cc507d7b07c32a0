// The admin API's cluster routes (docs/admin-api.md#cluster).
#include "server/admin_api.h"
#include "server/admin_json.h"

#include <charconv>

namespace kiseki::server {

namespace json = boost::json;

Response AdminApi::route_cluster(const Request& req, const std::vector<std::string>& p) {
  if (!cluster_) return error(make_error(ErrorCode::kNotSupported, "this server is a single node, not a cluster"));
  auto m = req.method();
  size_t n = p.size();
  if (n == 3 && m == http::verb::get) {
    boost::system::error_code ec;
    json::value v = json::parse(cluster_->cluster_status_json(), ec);
    if (ec) return error(make_error(ErrorCode::kIoError, "cluster status: " + ec.message()));
    return reply(http::status::ok, v);
  }
  if (n == 4 && p[3] == "nodes" && m == http::verb::get) {
    json::array a;
    for (const auto& v : cluster_->list_nodes())
      a.push_back(json::object{{"id", v.info.id},
                               {"fabric", v.info.fabric},
                               {"state", cluster::node_state_name(v.info.state)},
                               {"domain", v.info.domain},
                               {"weight", v.info.weight},
                               {"raft_role", v.raft_role},
                               {"leader", v.leader}});
    return reply(http::status::ok, a);
  }
  if ((n == 5 || n == 6) && p[3] == "nodes") {
    uint64_t id = 0;
    auto [ptr, ec] = std::from_chars(p[4].data(), p[4].data() + p[4].size(), id);
    if (ec != std::errc() || ptr != p[4].data() + p[4].size() || id == 0)
      return error(invalid_argument("node ids are numbers above 0"));
    Status st;
    if (n == 5 && m == http::verb::delete_) st = cluster_->remove(id);
    else if (n == 6 && p[5] == "drain" && m == http::verb::post) st = cluster_->drain(id);
    else return error(not_found("no route " + std::string(req.method_string()) + " " + std::string(req.target())));
    if (!st) return error(st);
    return reply(http::status::ok, json::object{{"id", id}, {"done", n == 5 ? "removed" : "draining"}});
  }
  if (n == 4 && p[3] == "repair" && m == http::verb::post) {
    // One repair pass on this node now (each node repairs the chunks it answers for).
    (void)cluster_->repair_pass();
    boost::system::error_code ec;
    json::value v = json::parse(cluster_->repair_json(), ec);
    if (ec) return error(make_error(ErrorCode::kIoError, "repair: " + ec.message()));
    return reply(http::status::ok, v);
  }
  if (n == 4 && p[3] == "chunks" && m == http::verb::get) {
    // Where every referenced chunk's copies and fragments are, asked of every node now.
    auto census = cluster_->census();
    if (!census) return error(census.status());
    boost::system::error_code ec;
    json::value v = json::parse(*census, ec);
    if (ec) return error(make_error(ErrorCode::kIoError, "census: " + ec.message()));
    return reply(http::status::ok, v);
  }
  if (n == 4 && p[3] == "faults") {
    if (!test_faults_)
      return error(make_error(ErrorCode::kNotPermitted, "fault injection is for tests: start the server with --test-faults"));
    if (m == http::verb::put) {
      auto body = body_object(req);
      if (!body) return error(body.status());
      std::set<uint64_t> cut;
      if (auto* v = body->if_contains("isolate")) {
        if (!v->is_array()) return error(invalid_argument("field 'isolate' must be an array of node ids"));
        for (const auto& e : v->as_array()) {
          if (!e.is_int64() || e.as_int64() <= 0) return error(invalid_argument("node ids are numbers above 0"));
          cut.insert(static_cast<uint64_t>(e.as_int64()));
        }
      }
      cluster_->faults()->isolate(cut);
    } else if (m != http::verb::get) {
      return error(invalid_argument("GET or PUT"));
    }
    json::array a;
    for (uint64_t id : cluster_->faults()->isolated()) a.push_back(id);
    return reply(http::status::ok, json::object{{"isolate", a}});
  }
  return error(not_found("no route " + std::string(req.method_string()) + " " + std::string(req.target())));
}

}  // namespace kiseki::server
