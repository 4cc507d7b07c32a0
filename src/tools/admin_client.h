// A blocking HTTP client for the admin API (used by the kiseki CLI).
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

// One request over a fresh connection to HOST:PORT.
Result<HttpReply> http_request(const std::string& endpoint, const std::string& method,
                               const std::string& target, const std::string& body = {});

}  // namespace kiseki::tools
