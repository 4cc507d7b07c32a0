#include "protocols/s3/xml.h"

#include <pugixml.hpp>

#include <charconv>

namespace kiseki::s3 {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

bool xml_representable(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(s[i + 2]) == 0xBE || static_cast<unsigned char>(s[i + 2]) == 0xBF))
      return false;
  }
  return true;
}

XmlWriter& XmlWriter::open(std::string_view tag, bool s3_namespace) {
  out_ += "<";
  out_ += tag;
  if (s3_namespace) out_ += " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
  out_ += ">";
  return *this;
}

XmlWriter& XmlWriter::close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += ">";
  return *this;
}

XmlWriter& XmlWriter::leaf(std::string_view tag, std::string_view text) {
  open(tag);
  out_ += xml_escape(text);
  return close(tag);
}

static Status malformed(std::string m) { return invalid_argument("MalformedXML: " + std::move(m)); }

static Result<pugi::xml_document*> load(pugi::xml_document* doc, std::string_view body) {
  auto r = doc->load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return malformed(r.description());
  return doc;
}

Result<std::vector<std::pair<uint32_t, std::string>>> parse_complete_multipart(
    std::string_view body, std::map<uint32_t, std::map<std::string, std::string>>* checksums) {
  pugi::xml_document doc;
  KISEKI_TRY(load(&doc, body).status());
  auto root = doc.child("CompleteMultipartUpload");
  if (!root) return malformed("expected CompleteMultipartUpload");
  std::vector<std::pair<uint32_t, std::string>> parts;
  for (auto p : root.children("Part")) {
    std::string_view num = p.child_value("PartNumber");
    uint32_t n = 0;
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (ec != std::errc() || ptr != num.data() + num.size()) return malformed("bad PartNumber");
    std::string etag = p.child_value("ETag");
    if (etag.empty()) return malformed("Part without ETag");
    parts.emplace_back(n, etag);
    if (checksums)
      for (const char* algo : {"CRC32", "CRC32C", "SHA1", "SHA256"})
        if (auto v = p.child(("Checksum" + std::string(algo)).c_str())) {
          std::string name = "x-amz-checksum-" + std::string(algo);
          for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          (*checksums)[n][name] = v.child_value();
        }
  }
  if (parts.empty()) return malformed("no Part");
  return parts;
}

Result<DeleteRequest> parse_delete(std::string_view body) {
  pugi::xml_document doc;
  KISEKI_TRY(load(&doc, body).status());
  auto root = doc.child("Delete");
  if (!root) return malformed("expected Delete");
  DeleteRequest r;
  r.quiet = std::string_view(root.child_value("Quiet")) == "true";
  for (auto o : root.children("Object")) {
    if (!o.child("Key")) return malformed("Object without Key");
    r.keys.emplace_back(o.child_value("Key"));
    r.version_ids.emplace_back(o.child_value("VersionId"));
  }
  if (r.keys.empty() || r.keys.size() > 1000) return malformed("Delete needs 1..1000 objects");
  return r;
}

}  // namespace kiseki::s3
