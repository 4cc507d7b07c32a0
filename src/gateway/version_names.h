// Names of object versions (ADR 0012). An entry of the versions directory is
// `key · NUL · suffix`; the suffix is 16 hex digits of (UINT64_MAX − the
// version's time in ns), so a key's versions sort newest first, then either 8
// random hex digits (the 24-digit version id a client sees) or "null" (the null
// version, of which a key has one at most).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "crypto/primitives.h"

namespace kiseki::gateway {

constexpr std::string_view kNullVersion = "null";
// File writes (NFS, the mount) to a versioned object make a new version when
// they come more than this after its last change; a burst of writes is one.
constexpr int64_t kVersionBurstNs = 5'000'000'000;
constexpr size_t kVersionIdChars = 24;

inline std::string inverted_time_hex(int64_t t) {
  uint8_t b[8];
  put_be64(b, UINT64_MAX - static_cast<uint64_t>(t));
  return to_hex(ByteSpan(b, 8));
}

inline std::string new_version_id(int64_t t) {
  uint8_t r[4];
  crypto::random_bytes(MutableByteSpan(r, 4));
  return inverted_time_hex(t) + to_hex(ByteSpan(r, 4));
}

// A version id this namespace could have made: 24 lowercase hex digits, or "null".
inline bool well_formed_version_id(std::string_view id) {
  if (id == kNullVersion) return true;
  if (id.size() != kVersionIdChars) return false;
  for (char ch : id)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

// The entry of a version: `id` is its version id, "" for a null version made at `t`.
inline std::string version_entry(std::string_view key, std::string_view id, int64_t t) {
  std::string name(key);
  name.push_back('\0');
  if (id.empty()) name.append(inverted_time_hex(t)).append(kNullVersion);
  else name.append(id);
  return name;
}

// The time a version id or entry suffix carries (its first 16 hex digits).
inline int64_t version_time_ns(std::string_view id_or_suffix) {
  uint64_t inv = 0;
  for (char ch : id_or_suffix.substr(0, 16)) inv = inv * 16 + static_cast<uint64_t>(ch <= '9' ? ch - '0' : ch - 'a' + 10);
  return static_cast<int64_t>(UINT64_MAX - inv);
}

// The version id of an entry's suffix.
inline std::string_view version_id_of(std::string_view suffix) {
  return suffix.ends_with(kNullVersion) ? kNullVersion : suffix;
}

}  // namespace kiseki::gateway
