// TLS for the HTTP endpoints (S3, admin API): a server certificate chain and key
// from PEM files, TLS 1.2 or later. reload() re-reads the files (SIGHUP): new
// connections get the new certificate, open ones keep theirs, and files that do
// not load leave the old certificate in place.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace kiseki {

// OpenSSL's queued errors as text ("; " between them), the queue cleared.
std::string openssl_error_text();

class TlsConfig {
 public:
  static Result<std::shared_ptr<TlsConfig>> load(const std::string& cert_file, const std::string& key_file);
  Status reload();
  // The context for a new connection; the connection keeps it alive.
  std::shared_ptr<boost::asio::ssl::context> context() const;

 private:
  TlsConfig(std::string cert, std::string key) : cert_(std::move(cert)), key_(std::move(key)) {}
  std::string cert_, key_;
  mutable std::mutex mu_;  // guards ctx_
  std::shared_ptr<boost::asio::ssl::context> ctx_;
};

}  // namespace kiseki
