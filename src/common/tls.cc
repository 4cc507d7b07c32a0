#include "common/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace kiseki {

namespace ssl = boost::asio::ssl;

std::string openssl_error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

static Result<std::shared_ptr<ssl::context>> make_context(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(c, cert.c_str()) != 1)
    return invalid_argument("TLS certificate " + cert + ": " + openssl_error_text());
  if (SSL_CTX_use_PrivateKey_file(c, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return invalid_argument("TLS key " + key + ": " + openssl_error_text());
  if (SSL_CTX_check_private_key(c) != 1)
    return invalid_argument("TLS key " + key + " does not match the certificate " + cert);
  return ctx;
}

Result<std::shared_ptr<TlsConfig>> TlsConfig::load(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) return invalid_argument("TLS needs both a certificate and a key");
  std::shared_ptr<TlsConfig> t(new TlsConfig(cert_file, key_file));
  KISEKI_TRY(t->reload());
  return t;
}

Status TlsConfig::reload() {
  KISEKI_ASSIGN_OR_RETURN(auto ctx, make_context(cert_, key_));
  std::lock_guard lock(mu_);
  ctx_ = std::move(ctx);
  return Status::ok();
}

std::shared_ptr<ssl::context> TlsConfig::context() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

}  // namespace kiseki
