#include "protocols/s3/dates.h"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace kiseki::s3 {

std::string http_date(int64_t ns) {
  // By hand, not strftime (which consults the locale): every response has one.
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[29];  // "Sun, 06 Nov 1994 08:49:37 GMT"
  auto two = [&](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(buf, kDays + 3 * tm.tm_wday, 3);
  std::memcpy(buf + 3, ", ", 2);
  two(buf + 5, tm.tm_mday);
  buf[7] = ' ';
  std::memcpy(buf + 8, kMonths + 3 * tm.tm_mon, 3);
  buf[11] = ' ';
  int year = tm.tm_year + 1900;
  two(buf + 12, year / 100 % 100);
  two(buf + 14, year % 100);
  buf[16] = ' ';
  two(buf + 17, tm.tm_hour);
  buf[19] = ':';
  two(buf + 20, tm.tm_min);
  buf[22] = ':';
  two(buf + 23, tm.tm_sec);
  std::memcpy(buf + 25, " GMT", 4);
  return std::string(buf, sizeof(buf));
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

bool parse_iso8601(std::string_view s, int64_t* ns) {
  std::tm tm{};
  std::string str(s);
  const char* p = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) {
    tm = {};
    p = strptime(str.c_str(), "%Y-%m-%d", &tm);
    if (!p) return false;
  }
  int64_t frac_ns = 0;
  if (*p == '.') {
    int64_t scale = 100'000'000;
    for (++p; *p >= '0' && *p <= '9'; ++p, scale /= 10) frac_ns += (*p - '0') * scale;
  }
  std::string_view zone(p);
  if (!zone.empty() && zone != "Z" && zone != "+00:00") return false;
  int64_t secs = static_cast<int64_t>(timegm(&tm));
  if (secs < 0 || secs > INT64_MAX / 1'000'000'000 - 1) return false;
  *ns = secs * 1'000'000'000 + frac_ns;
  return true;
}

}  // namespace kiseki::s3
