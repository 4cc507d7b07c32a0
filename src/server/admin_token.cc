#include "server/admin_token.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <cstdio>

#include "common/bytes.h"
#include "common/file_util.h"
#include "crypto/primitives.h"

namespace kiseki::server {

Result<std::string> ensure_admin_token(const std::string& data_dir, const char* from_env) {
  std::string path = data_dir + "/admin-token";
  if (from_env && *from_env) {
    std::string token(from_env);
    if (token.size() < 16) return invalid_argument("KISEKI_ADMIN_TOKEN must be at least 16 characters");
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
  std::string token = "ksa_" + to_hex(ByteSpan(raw, sizeof(raw)));
  secure_zero(raw, sizeof(raw));
  KISEKI_TRY(write_file_atomic(path, token + "\n", 0600));
  std::printf("Kiseki admin token (shown once, kept in %s):\n  %s\n", path.c_str(), token.c_str());
  std::fflush(stdout);
  return token;
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

int AdminGuard::check(std::string_view authorization, std::string_view host, std::string_view origin) const {
  if (!host_ok(host)) return 403;
  if (!origin.empty() && origin != "http://" + std::string(host) && origin != "https://" + std::string(host))
    return 403;
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return 401;
  std::string_view given = authorization.substr(kBearer.size());
  if (given.size() != token_.size() || CRYPTO_memcmp(given.data(), token_.data(), token_.size()) != 0) return 401;
  return 0;
}

}  // namespace kiseki::server
