// Object tags: the tag set of an object, as S3 takes it (the x-amz-tagging
// header's URL-encoded query form, or a Tagging XML document) and gives it
// back. An object keeps its tags in its metadata, under kTagsHeader, in the
// header form (encoded, in the order given); they are never sent as a header
// of their own, only counted (x-amz-tagging-count) and listed (GET ?tagging).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

using TagSet = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kTagsHeader = "x-amz-tagging";

// The header form "k1=v1&k2=v2" (URL-encoded); InvalidTag for a set S3 refuses
// (more than 10 tags, a key of 0 or more than 128 characters, a value of more
// than 256, a repeated key, characters outside letters, digits, spaces and
// + - = . _ : / @).
Result<TagSet> parse_tag_header(std::string_view header, size_t max_tags = 10);
// <Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging>
// An object has up to 10 tags, a bucket up to 50 (kept as the bucket's
// "tagging" configuration item, in the header form; ADR 0011).
inline constexpr size_t kMaxObjectTags = 10, kMaxBucketTags = 50;
inline constexpr std::string_view kTaggingItem = "tagging";
Result<TagSet> parse_tagging_xml(std::string_view body, size_t max_tags = kMaxObjectTags);
std::string encode_tags(const TagSet& tags);  // the header form
// The tags in a stored (non-empty, checked when stored) header form.
inline size_t tag_count(std::string_view stored) {
  return stored.empty() ? 0 : 1 + static_cast<size_t>(std::count(stored.begin(), stored.end(), '&'));
}
std::string tagging_xml(const TagSet& tags);  // Get{Object,Bucket}Tagging's document

}  // namespace kiseki::s3
