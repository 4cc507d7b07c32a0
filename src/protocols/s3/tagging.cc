#include "protocols/s3/tagging.h"

#include <pugixml.hpp>

#include <set>

#include "protocols/s3/sigv4.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

Status invalid_tag(const std::string& m) { return invalid_argument("InvalidTag: " + m); }

// Characters counted as Unicode code points (UTF-8 continuation bytes skipped).
size_t chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool allowed(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80 || std::isalnum(c)) continue;  // letters of any script
    if (std::string_view(" +-=._:/@").find(static_cast<char>(c)) == std::string_view::npos) return false;
  }
  return true;
}

Status validate(const TagSet& tags, size_t max_tags) {
  if (tags.size() > max_tags)
    return invalid_tag(max_tags == kMaxObjectTags ? "Object tags cannot be greater than 10"
                                                  : "Bucket tag count cannot be greater than 50");
  std::set<std::string_view> keys;
  for (const auto& [k, v] : tags) {
    if (k.empty() || chars(k) > 128 || !allowed(k)) return invalid_tag("The TagKey you have provided is invalid");
    if (chars(v) > 256 || !allowed(v)) return invalid_tag("The TagValue you have provided is invalid");
    if (!keys.insert(k).second) return invalid_tag("Cannot provide multiple Tags with the same key");
  }
  return Status::ok();
}

}  // namespace

Result<TagSet> parse_tag_header(std::string_view header, size_t max_tags) {
  TagSet tags;
  if (!parse_query(header, &tags, /*plus_is_space=*/true))
    return invalid_tag("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters");
  KISEKI_TRY(validate(tags, max_tags));
  return tags;
}

Result<TagSet> parse_tagging_xml(std::string_view body, size_t max_tags) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return invalid_argument(std::string("MalformedXML: ") + r.description());
  auto set = doc.child("Tagging").child("TagSet");
  if (!set) return invalid_argument("MalformedXML: expected Tagging/TagSet");
  TagSet tags;
  for (auto t : set.children("Tag")) {
    if (!t.child("Key")) return invalid_argument("MalformedXML: a Tag without a Key");
    tags.emplace_back(t.child_value("Key"), t.child_value("Value"));
  }
  KISEKI_TRY(validate(tags, max_tags));
  return tags;
}

std::string encode_tags(const TagSet& tags) {
  std::string out;
  for (const auto& [k, v] : tags) out += (out.empty() ? "" : "&") + uri_encode(k, false) + "=" + uri_encode(v, false);
  return out;
}

std::string tagging_xml(const TagSet& tags) {
  XmlWriter w;
  w.open("Tagging", true).open("TagSet");
  for (const auto& [k, v] : tags) w.open("Tag").leaf("Key", k).leaf("Value", v).close("Tag");
  return w.close("TagSet").close("Tagging").take();
}

}  // namespace kiseki::s3
