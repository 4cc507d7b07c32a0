// Lifecycle rules: a bucket's LifecycleConfiguration as S3 takes it (rules with
// a filter of prefix, tags and object size; expiration after days or at a date;
// aborting multipart uploads left incomplete), kept as the bucket's "lifecycle"
// configuration item (ADR 0011) in a canonical document, applied by
// LifecycleWorker (lifecycle_worker.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocols/s3/tagging.h"

namespace kiseki::s3 {

inline constexpr std::string_view kLifecycleItem = "lifecycle";

struct LifecycleRule {
  std::string id;
  bool enabled = true;
  // Filter: every part given must match.
  std::string prefix;
  TagSet tags;
  std::optional<uint64_t> size_greater_than, size_less_than;
  // Actions.
  std::optional<int64_t> expiration_days;
  std::optional<int64_t> expiration_date_ns;   // midnight UTC
  std::optional<int64_t> abort_upload_days;    // AbortIncompleteMultipartUpload
  std::optional<int64_t> noncurrent_days;      // NoncurrentVersionExpiration
  bool expired_delete_markers = false;         // ExpiredObjectDeleteMarker: a marker left alone goes
};

// MalformedXML for what is not a lifecycle document, InvalidArgument /
// InvalidRequest for what S3 refuses (no action, a date not at midnight UTC,
// days below 1, two rules with one ID, more than 1000 rules); NotImplemented
// for storage class transitions (Kiseki has one class).
Result<std::vector<LifecycleRule>> parse_lifecycle_xml(std::string_view body);
std::string lifecycle_xml(const std::vector<LifecycleRule>& rules);

// Whether the rule's filter takes an object (its key, size and tags).
bool lifecycle_filter_matches(const LifecycleRule& r, std::string_view key, uint64_t size, const TagSet& tags);

// When something `days` days old by `since_ns` expires: S3 adds the days and
// rounds up to the next midnight UTC.
int64_t lifecycle_due_ns(int64_t since_ns, int64_t days);

}  // namespace kiseki::s3
