// A blocking HTTP(S) client for the admin API (used by the kiseki CLI).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiseki::tools {

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// One request: the admin API's bearer token goes with it unless `headers` are
// given (an S3 request carries its own Authorization).
struct HttpCall {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string what = "the admin API";  // named in the error when it cannot be reached
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
Result<HttpReply> http_call(const std::string& url, const HttpCall& call);
// "HOST:PORT" of an endpoint URL.
std::string host_port_of(const std::string& url);

}  // namespace kiseki::tools
