// The admin API's bearer tokens: the admin token (every right) is made on first
// start, printed once and kept in DATA/admin-token (mode 0600) next to the
// credentials; KISEKI_ADMIN_TOKEN sets it instead. The CLI reads the same file
// (or the variable, or --token). A read-only token (GET and HEAD only: for
// monitoring) is kept in DATA/admin-token-readonly, or set with
// KISEKI_ADMIN_READONLY_TOKEN.
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::server {

struct AdminTokens {
  std::string admin;
  std::string readonly;
};
Result<AdminTokens> ensure_admin_tokens(const std::string& data_dir, const char* admin_env, const char* readonly_env);

// The checks in front of the admin API: the token (constant time), a Host that
// names this server by address or as localhost with its port (no DNS rebinding),
// and no foreign Origin (no cross-site request from a browser).
class AdminGuard {
 public:
  AdminGuard(AdminTokens tokens, uint16_t port) : tokens_(std::move(tokens)), port_(port) {}
  enum Verdict { kPass, kUnauthorized, kForeign, kReadOnly };
  // `changes`: the request is not a GET or HEAD.
  Verdict check(std::string_view authorization, std::string_view host, std::string_view origin, bool changes) const;

 private:
  bool host_ok(std::string_view host) const;
  AdminTokens tokens_;
  uint16_t port_;
};

}  // namespace kiseki::server
