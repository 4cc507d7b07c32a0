#include "protocols/s3/request.h"

namespace kiseki::s3 {

void assign_bucket_and_key(S3Request* r, const std::string& host_bucket) {
  std::string_view p = r->path;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (!host_bucket.empty()) {
    r->bucket = host_bucket;
    r->key = std::string(p);
    r->virtual_host = true;
    return;
  }
  auto slash = p.find('/');
  r->bucket = std::string(p.substr(0, slash));
  r->key = slash == std::string_view::npos ? std::string() : std::string(p.substr(slash + 1));
}

std::string bucket_from_host(std::string_view host, std::string_view domain) {
  if (domain.empty()) return {};
  auto colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']') == std::string_view::npos) host = host.substr(0, colon);
  if (host.size() <= domain.size() + 1) return {};
  if (host.substr(host.size() - domain.size()) != domain || host[host.size() - domain.size() - 1] != '.') return {};
  return std::string(host.substr(0, host.size() - domain.size() - 1));
}

}  // namespace kiseki::s3
