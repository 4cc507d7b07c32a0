// A small S3 client for the kiseki CLI's put/get/ls/rm: SigV4-signed requests
// over tools::http_call, multipart uploads and ranged downloads for big files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/admin_client.h"

namespace kiseki::tools {

struct S3Endpoint {
  std::string url = "http://127.0.0.1:9000";
  std::string access_key, secret_key;
  std::string region = "us-east-1";
};

// Reads aws_access_key_id / aws_secret_access_key of [profile] from an AWS
// credentials file (DATA/credentials is one).
Status load_credentials(const std::string& file, const std::string& profile, S3Endpoint* ep);

struct ObjectEntry {
  std::string key;  // or a common prefix, ending in the delimiter
  uint64_t size = 0;
  std::string last_modified;
  bool prefix = false;
};

// Called with (bytes done, bytes in all) as a transfer goes.
using Progress = std::function<void(uint64_t, uint64_t)>;

class S3Client {
 public:
  explicit S3Client(S3Endpoint ep) : ep_(std::move(ep)) {}
  // Uploads a local file (multipart above `part_size`).
  Status put_file(const std::string& path, const std::string& bucket, const std::string& key, const Progress& p,
                  uint64_t part_size = 16 << 20);
  // Downloads to a local file ("-": standard output) in ranges of `part_size`.
  Status get_file(const std::string& bucket, const std::string& key, const std::string& path, const Progress& p,
                  uint64_t part_size = 16 << 20);
  Result<std::vector<ObjectEntry>> list(const std::string& bucket, const std::string& prefix, bool recursive);
  Result<std::vector<ObjectEntry>> list_buckets();
  Status remove(const std::string& bucket, const std::string& key);

 private:
  Result<HttpReply> call(const std::string& method, const std::string& bucket, const std::string& key,
                         const std::vector<std::pair<std::string, std::string>>& query, const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers = {});
  S3Endpoint ep_;
};

}  // namespace kiseki::tools
