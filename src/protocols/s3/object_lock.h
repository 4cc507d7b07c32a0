// S3 object lock documents (ADR 0012): the bucket's ObjectLockConfiguration
// (kept as its configuration item "object-lock"), an object's Retention and
// LegalHold, and the lock a write asks for in its headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "namespace/inode.h"

namespace kiseki::s3 {

constexpr std::string_view kObjectLockItem = "object-lock";

struct LockConfig {
  // The bucket's default retention for new objects, if it has one.
  std::optional<ns::LockMode> mode;
  uint32_t days = 0;
  uint32_t years = 0;
  // When a new object's default retention ends.
  int64_t default_until(int64_t now_ns) const;
};

// MalformedXML / InvalidArgument as S3 answers a bad document.
Result<LockConfig> parse_lock_config(std::string_view xml);
std::string lock_config_xml(const LockConfig& c);

const char* lock_mode_name(ns::LockMode m);  // "GOVERNANCE", "COMPLIANCE"
std::optional<ns::LockMode> parse_lock_mode(std::string_view s);

// <Retention><Mode/><RetainUntilDate/></Retention>: an empty document (no
// mode) removes a retention.
Result<ns::ObjectLock> parse_retention(std::string_view xml);
std::string retention_xml(const ns::ObjectLock& l);
// <LegalHold><Status>ON|OFF</Status></LegalHold>
Result<bool> parse_legal_hold(std::string_view xml);
std::string legal_hold_xml(bool on);

}  // namespace kiseki::s3
