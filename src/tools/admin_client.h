// A blocking HTTP(S) client for the admin API (used by the kiseki CLI).
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::tools {

struct HttpReply {
  int status = 0;
  std::string body;
};

// The admin token sent with every request ("" sends none).
void set_admin_token(std::string token);
// The CA certificates (PEM file) that an https:// endpoint's certificate must
// chain to ("": the system's).
void set_admin_ca(std::string file);

// `s` percent-encoded for one path segment (every byte but A-Z a-z 0-9 - . _ ~).
std::string path_segment(std::string_view s);

// One request over a fresh connection to HOST:PORT, http://HOST:PORT or
// https://HOST:PORT (the server's certificate is verified, host name included).
Result<HttpReply> http_request(const std::string& url, const std::string& method,
                               const std::string& target, const std::string& body = {});

}  // namespace kiseki::tools
