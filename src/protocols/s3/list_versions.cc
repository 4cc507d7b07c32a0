// ListObjectVersions. Until versioning is built (ADR 0012) every object is the
// one version of its key, "null" and the latest: the listing is the object
// listing in S3's versions form, so tools that empty or audit buckets through
// it (delete every version, then the bucket) work unchanged.
#include <charconv>

#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

Response S3Handler::list_object_versions(Ctx& c) {
  c.op = "ListObjectVersions";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  const S3Request& q = c.req;
  gateway::ListRequest lr;
  lr.prefix = q.param("prefix") ? *q.param("prefix") : "";
  lr.delimiter = q.param("delimiter") ? *q.param("delimiter") : "";
  if (const std::string* mk = q.param("max-keys")) {
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(mk->data(), mk->data() + mk->size(), v);
    if (ec != std::errc() || p != mk->data() + mk->size())
      return error(c, make_s3_error(400, "InvalidArgument", "Provided max-keys not an integer or within integer range"));
    lr.max_keys = std::min<uint32_t>(v, 1000);
  }
  std::string key_marker = q.param("key-marker") ? *q.param("key-marker") : "";
  std::string version_marker = q.param("version-id-marker") ? *q.param("version-id-marker") : "";
  if (!version_marker.empty() && key_marker.empty())
    return error(c, make_s3_error(400, "InvalidArgument", "A version-id marker cannot be specified without a key marker."));
  if (names_a_version(version_marker))
    return error(c, make_s3_error(400, "InvalidArgument", "Invalid version id specified"));
  // After (key-marker, its one version): after the key.
  lr.start_after = key_marker;
  std::string encoding = q.param("encoding-type") ? *q.param("encoding-type") : "";
  if (!encoding.empty() && encoding != "url")
    return error(c, make_s3_error(400, "InvalidArgument", "Invalid Encoding Method specified in Request"));
  bool url = encoding == "url";
  auto enc = [&](const std::string& s) { return url ? uri_encode(s, true) : s; };
  auto res = gw_->list_objects(*ns, lr);
  if (!res) return error(c, res.status(), Subject::kBucket);
  if (!url) {
    bool ok = true;
    for (const auto& o : res->objects) ok = ok && xml_representable(o.key);
    for (const auto& p : res->common_prefixes) ok = ok && xml_representable(p);
    if (!ok)
      return error(c, make_s3_error(400, "InvalidArgument",
                                    "Some keys hold characters that XML 1.0 cannot carry: list with encoding-type=url"));
  }
  std::string owner = std::to_string(ns->tenant);
  XmlWriter x;
  x.open("ListVersionsResult", true).leaf("Name", c.req.bucket).leaf("Prefix", enc(lr.prefix));
  x.leaf("KeyMarker", enc(key_marker)).leaf("VersionIdMarker", version_marker);
  x.leaf("MaxKeys", std::to_string(lr.max_keys));
  if (!lr.delimiter.empty()) x.leaf("Delimiter", enc(lr.delimiter));
  if (url) x.leaf("EncodingType", "url");
  x.leaf("IsTruncated", res->truncated ? "true" : "false");
  if (res->truncated) x.leaf("NextKeyMarker", enc(res->next_start_after)).leaf("NextVersionIdMarker", "null");
  for (const auto& o : res->objects) {
    x.open("Version").leaf("Key", enc(o.key)).leaf("VersionId", "null").leaf("IsLatest", "true");
    x.leaf("LastModified", iso8601(o.mtime_ns)).leaf("ETag", quoted(o.etag)).leaf("Size", std::to_string(o.size));
    x.leaf("StorageClass", "STANDARD").open("Owner").leaf("ID", owner).leaf("DisplayName", owner).close("Owner");
    x.close("Version");
  }
  for (const auto& p : res->common_prefixes) x.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes");
  x.close("ListVersionsResult");
  return xml_response(x);
}

}  // namespace kiseki::s3
