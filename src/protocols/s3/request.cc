#include "protocols/s3/request.h"

#include <cctype>

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

bool request_from_header(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string_view, std::string_view>>& fields,
                         std::string_view domain, S3Request* r) {
  r->method = std::string(method);
  r->raw_target = std::string(target);
  for (const auto& [n, v] : fields) {
    std::string name(n);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r->headers[name].emplace_back(v);
  }
  auto qpos = target.find('?');
  std::string_view raw_path = target.substr(0, qpos);
  if (raw_path.empty() || raw_path.front() != '/' || !uri_decode(raw_path, &r->path) ||
      (qpos != std::string_view::npos && !parse_query(target.substr(qpos + 1), &r->query)))
    return false;
  assign_bucket_and_key(r, bucket_from_host(r->header_or("host"), domain));
  return true;
}

}  // namespace kiseki::s3
