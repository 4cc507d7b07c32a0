// The admin API's bearer token: made on first start, printed once and kept in
// DATA/admin-token (mode 0600) next to the credentials; KISEKI_ADMIN_TOKEN sets
// it instead. The CLI reads the same file (or the variable, or --token).
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::server {

Result<std::string> ensure_admin_token(const std::string& data_dir, const char* from_env);

// The checks in front of the admin API: the token (constant time), a Host that
// names this server by address or as localhost with its port (no DNS rebinding),
// and no foreign Origin (no cross-site request from a browser).
class AdminGuard {
 public:
  AdminGuard(std::string token, uint16_t port) : token_(std::move(token)), port_(port) {}
  // 0 if the request may pass, else the HTTP status to refuse it with.
  int check(std::string_view authorization, std::string_view host, std::string_view origin) const;

 private:
  bool host_ok(std::string_view host) const;
  std::string token_;
  uint16_t port_;
};

}  // namespace kiseki::server
