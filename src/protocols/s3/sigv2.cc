#include "protocols/s3/sigv2.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <set>

#include "protocols/s3/body.h"

namespace kiseki::s3 {

namespace {
// The query parameters that are part of the signed resource (list-type: botocore
// signs it, as part of the operation's path).
const std::set<std::string, std::less<>> kSubResources = {
    "accelerate", "acl", "analytics", "cors", "delete", "encryption", "inventory", "legal-hold", "lifecycle",
    "list-type", "location", "logging", "metrics", "notification", "object-lock", "ownershipControls", "partNumber", "policy",
    "publicAccessBlock", "replication", "requestPayment", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type", "response-expires",
    "restore", "retention", "select", "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads",
    "versionId", "versioning", "versions", "website"};

std::string trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return std::string(v);
}
}  // namespace

std::string v2_canonical_resource(std::string_view bucket_path, const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> sub;
  for (const auto& [k, v] : query)
    if (kSubResources.count(k)) sub.emplace_back(k, v);
  std::sort(sub.begin(), sub.end());
  std::string r(bucket_path);
  char sep = '?';
  for (const auto& [k, v] : sub) {
    r += sep;
    r += k;
    if (!v.empty()) r += "=" + v;
    sep = '&';
  }
  return r;
}

std::string v2_string_to_sign(std::string_view method, std::string_view content_md5,
                              std::string_view content_type, std::string_view date,
                              const std::map<std::string, std::vector<std::string>>& headers,
                              std::string_view resource) {
  std::string s;
  s.append(method).append("\n").append(content_md5).append("\n").append(content_type).append("\n");
  s.append(date).append("\n");
  for (const auto& [name, values] : headers) {  // lower case and sorted already
    if (!name.starts_with("x-amz-")) continue;
    s += name + ":";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + trim(values[i]);
    s += "\n";
  }
  s.append(resource);
  return s;
}

std::string v2_signature(std::string_view secret, std::string_view string_to_sign) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), mac, &len);
  return base64_encode(ByteSpan(mac, len));
}

}  // namespace kiseki::s3
