#include "server/admin_token.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <cstdio>

#include "common/bytes.h"
#include "common/file_util.h"
#include "crypto/primitives.h"

namespace kiseki::server {

// The token kept at `path`: the environment's if given, else the file's, else a
// new one (`prefix` · 48 hex digits). `made` says whether it is new.
static Result<std::string> ensure_token(const std::string& path, const char* from_env, const char* env_name,
                                        std::string_view prefix, bool* made) {
  *made = false;
  if (from_env && *from_env) {
    std::string token(from_env);
    if (token.size() < 16) return invalid_argument(std::string(env_name) + " must be at least 16 characters");
    auto have = read_file(path);
    if (!have || *have != token + "\n") KISEKI_TRY(write_file_atomic(path, token + "\n", 0600));
    return token;
  }
  if (file_exists(path)) {
    KISEKI_ASSIGN_OR_RETURN(std::string t, read_file(path));
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    if (t.size() < 16) return corruption(path + " holds no usable token");
    return t;
  }
  uint8_t raw[24];
  crypto::random_bytes(raw);
  std::string token = std::string(prefix) + to_hex(ByteSpan(raw, sizeof(raw)));
  secure_zero(raw, sizeof(raw));
  KISEKI_TRY(write_file_atomic(path, token + "\n", 0600));
  *made = true;
  return token;
}

Result<AdminTokens> ensure_admin_tokens(const std::string& data_dir, const char* admin_env, const char* readonly_env) {
  AdminTokens t;
  bool made = false;
  std::string path = data_dir + "/admin-token";
  KISEKI_ASSIGN_OR_RETURN(t.admin, ensure_token(path, admin_env, "KISEKI_ADMIN_TOKEN", "ksa_", &made));
  if (made) {
    std::printf("Kiseki admin token (shown once, kept in %s):\n  %s\n", path.c_str(), t.admin.c_str());
    std::fflush(stdout);
  }
  KISEKI_ASSIGN_OR_RETURN(t.readonly, ensure_token(data_dir + "/admin-token-readonly", readonly_env,
                                                   "KISEKI_ADMIN_READONLY_TOKEN", "ksr_", &made));
  if (t.readonly == t.admin) return invalid_argument("the read-only admin token must differ from the admin token");
  return t;
}

bool AdminGuard::host_ok(std::string_view host) const {
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos || host.substr(colon + 1) != std::to_string(port_)) return false;
  std::string name(host.substr(0, colon));
  if (name == "localhost") return true;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    in6_addr a6;
    return inet_pton(AF_INET6, name.substr(1, name.size() - 2).c_str(), &a6) == 1;
  }
  in_addr a4;
  return inet_pton(AF_INET, name.c_str(), &a4) == 1;  // an address, never a name a page could resolve
}

static bool same(std::string_view given, const std::string& token) {
  return given.size() == token.size() && CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

AdminGuard::Verdict AdminGuard::check(std::string_view authorization, std::string_view host,
                                      std::string_view origin, bool changes) const {
  if (!host_ok(host)) return kForeign;
  if (!origin.empty() && origin != "http://" + std::string(host) && origin != "https://" + std::string(host))
    return kForeign;
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return kUnauthorized;
  std::string_view given = authorization.substr(kBearer.size());
  if (same(given, tokens_.admin)) return kPass;
  if (same(given, tokens_.readonly)) return changes ? kReadOnly : kPass;
  return kUnauthorized;
}

}  // namespace kiseki::server
