// The admin HTTP surface: /metrics, /health, /ready and the JSON admin API for
// tenants, namespaces and access keys (docs/admin-api.md lists every route).
#pragma once

#include <atomic>
#include <memory>

#include "gateway/gateway.h"
#include "protocols/nfs/exports.h"
#include "server/admin_token.h"
#include "server/http_server.h"

namespace kiseki::server {

class AdminApi {
 public:
  // `exports` is null when NFS is off.
  explicit AdminApi(gateway::Gateway* gw, nfs::ExportTable* exports = nullptr) : gw_(gw), exports_(exports) {}
  Response handle(const Request& req);
  void set_ready(bool r) { ready_ = r; }
  // From then on /api (and with `all`, /metrics, /health and /ready too) needs
  // the guard's token, Host and Origin (admin_token.h).
  void protect(std::unique_ptr<AdminGuard> guard, bool all) {
    guard_ = std::move(guard);
    protect_all_ = all;
  }

 private:
  Response route_api(const Request& req, const std::vector<std::string>& parts);
  Response route_exports(const Request& req, const std::vector<std::string>& parts);
  gateway::Gateway* gw_;
  nfs::ExportTable* exports_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<AdminGuard> guard_;
  bool protect_all_ = false;
};

// The HTTP status an ErrorCode maps onto, for JSON error replies.
http::status http_status_for(ErrorCode code);

}  // namespace kiseki::server
