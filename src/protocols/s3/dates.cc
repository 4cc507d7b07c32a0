#include "protocols/s3/dates.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace kiseki::s3 {

std::string http_date(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string iso8601(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>((ns / 1'000'000) % 1000));
  return out;
}

bool parse_http_date(std::string_view s, int64_t* ns) {
  std::tm tm{};
  std::string str(s);
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return false;
  *ns = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
  return true;
}

}  // namespace kiseki::s3
