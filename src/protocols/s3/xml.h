// XML out (a small writer for S3's response documents) and in (pugixml-backed
// parsers for the few request documents S3 has).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

class XmlWriter {
 public:
  XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }
  XmlWriter& open(std::string_view tag, bool s3_namespace = false);
  XmlWriter& close(std::string_view tag);
  XmlWriter& leaf(std::string_view tag, std::string_view text);
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string xml_escape(std::string_view s);
// False if `s` holds a character XML 1.0 cannot carry, even escaped (C0 controls
// other than TAB, LF and CR; U+FFFE, U+FFFF): such keys list only URL-encoded.
bool xml_representable(std::string_view s);

// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag></Part>…
// `checksums` (if given) receives each part's ChecksumCRC32 … as
// x-amz-checksum-crc32 … by part number.
Result<std::vector<std::pair<uint32_t, std::string>>> parse_complete_multipart(
    std::string_view body, std::map<uint32_t, std::map<std::string, std::string>>* checksums = nullptr);

// <Delete><Quiet>true</Quiet><Object><Key>k</Key></Object>…</Delete>
struct DeleteRequest {
  bool quiet = false;
  std::vector<std::string> keys;
  std::vector<std::string> version_ids;  // one per key, "" where none is named
};
Result<DeleteRequest> parse_delete(std::string_view body);

}  // namespace kiseki::s3
