// The times S3 writes and reads: RFC 7231 IMF-fixdate in headers
// ("Sun, 06 Nov 1994 08:49:37 GMT") and ISO 8601 with milliseconds in documents.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiseki::s3 {

std::string http_date(int64_t ns);
std::string iso8601(int64_t ns);
bool parse_http_date(std::string_view s, int64_t* ns);
// "2026-12-30", "2026-12-30T12:00:00" with an optional fraction, then nothing,
// "Z" or "+00:00": UTC times of S3's documents (policies, lifecycle dates).
bool parse_iso8601(std::string_view s, int64_t* ns);

}  // namespace kiseki::s3
