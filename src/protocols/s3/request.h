// One S3 request as the handlers see it: method, decoded path and query,
// lower-case headers, and the bucket and key that path-style or
// virtual-host-style addressing names.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "protocols/s3/sigv4.h"

namespace kiseki::s3 {

struct S3Request {
  std::string method;        // "GET", …
  std::string raw_target;    // as received
  std::string path;          // decoded path, "/bucket/key" or "/key" (virtual host)
  QueryParams query;
  std::map<std::string, std::vector<std::string>> headers;  // lower-case names
  std::string bucket;
  std::string key;
  bool virtual_host = false;  // the bucket came from the Host header
  std::string remote_ip;      // the client's address ("127.0.0.1"; policies' aws:SourceIp)
  std::string request_id;

  const std::string* header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() || it->second.empty() ? nullptr : &it->second.front();
  }
  std::string header_or(const std::string& name, std::string def = {}) const {
    auto* h = header(name);
    return h ? *h : def;
  }
  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : query)
      if (k == name) return &v;
    return nullptr;
  }
  bool has_param(std::string_view name) const { return param(name) != nullptr; }
};

// Splits the path into bucket and key. `host_bucket` is the bucket a
// virtual-host-style Host header names ("" for path style).
void assign_bucket_and_key(S3Request* r, const std::string& host_bucket);

// The bucket named by Host under `domain` ("b.s3.local:9000" under "s3.local"), or "".
std::string bucket_from_host(std::string_view host, std::string_view domain);

// Fills `r` from a received header: method, target (path decoded, query
// parsed), lower-case header names, bucket and key (virtual-host style under
// `domain`). False: the target is not a valid URI (InvalidURI).
bool request_from_header(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string_view, std::string_view>>& fields,
                         std::string_view domain, S3Request* r);

}  // namespace kiseki::s3
