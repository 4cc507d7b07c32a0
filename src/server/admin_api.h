// The admin HTTP surface: /metrics, /health, /ready and the JSON admin API for
// tenants, namespaces and access keys (docs/admin-api.md lists every route).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_node.h"
#include "gateway/gateway.h"
#include "protocols/nfs/exports.h"
#include "protocols/s3/lifecycle_worker.h"
#include "server/admin_token.h"
#include "server/http_server.h"
#include "server/stats_history.h"

namespace kiseki::server {

// What the console and GET /api/v1/status say about this process.
struct ServerInfo {
  std::string version;
  std::string durability;
  std::vector<std::pair<std::string, std::string>> endpoints;  // protocol → URL or address
};

class AdminApi {
 public:
  // `exports` is null when NFS is off.
  explicit AdminApi(gateway::Gateway* gw, nfs::ExportTable* exports = nullptr);
  Response handle(const Request& req);
  void set_ready(bool r) { ready_ = r; }
  void set_info(ServerInfo info) { info_ = std::move(info); }
  void set_stats(const StatsHistory* stats) { stats_ = stats; }
  // Cluster mode: /api/v1/cluster and its parts (admin_cluster.cc); with
  // `test_faults` (kiseki-server --test-faults) PUT /api/v1/cluster/faults too.
  void set_cluster(cluster::ClusterNode* node, bool test_faults) {
    cluster_ = node;
    test_faults_ = test_faults;
  }
  // POST /api/v1/lifecycle/run runs a pass of `w` (null: S3 is off); with
  // `test_clock` (kiseki-server --test-faults) as of a time the request names.
  void set_lifecycle(s3::LifecycleWorker* w, bool test_clock) {
    lifecycle_ = w;
    lifecycle_test_clock_ = test_clock;
  }
  // From then on /api (and with `all`, /metrics, /health and /ready too) needs
  // the guard's token, Host and Origin (admin_token.h).
  void protect(std::unique_ptr<AdminGuard> guard, bool all) {
    guard_ = std::move(guard);
    protect_all_ = all;
  }

 private:
  Response route_api(const Request& req, const std::vector<std::string>& parts);
  Response route_exports(const Request& req, const std::vector<std::string>& parts);
  Response route_cluster(const Request& req, const std::vector<std::string>& parts);
  Response status();
  // Why the server is degraded (the last scrub found damage), if it is.
  std::optional<std::string> degraded();
  Response scrub();
  Response backup(const Request& req);
  Response usage(const Request& req);
  Response run_lifecycle(const Request& req);
  gateway::Gateway* gw_;
  s3::LifecycleWorker* lifecycle_ = nullptr;
  bool lifecycle_test_clock_ = false;
  nfs::ExportTable* exports_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<AdminGuard> guard_;
  bool protect_all_ = false;
  ServerInfo info_;
  const StatsHistory* stats_ = nullptr;
  cluster::ClusterNode* cluster_ = nullptr;
  bool test_faults_ = false;
  const int64_t started_ms_;
  std::mutex scrub_mu_;
  std::optional<std::string> last_scrub_;  // the JSON of the last scrub's report
  std::string scrub_damage_;               // what it found, in words ("" if nothing)
  std::mutex usage_mu_;
  int64_t usage_at_ms_ = 0;  // when usage_json_ was computed
  std::string usage_json_;
};

// The HTTP status an ErrorCode maps onto, for JSON error replies.
http::status http_status_for(ErrorCode code);

}  // namespace kiseki::server
