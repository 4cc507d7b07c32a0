// ListObjectVersions. Until versioning is built (ADR 0012) every object is the
// one version of its key, "null" and the latest: the listing is the object
// listing in S3's versions form, so tools that empty or audit buckets through
// it (delete every version, then the bucket) work unchanged.

#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

Response S3Handler::list_object_versions(Ctx& c) {
  c.op = "ListObjectVersions";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  const S3Request& q = c.req;
  auto listing = Listing::of(q);
  if (!listing) return error(c, listing.status(), Subject::kBucket);
  gateway::ListRequest& lr = listing->request;
  std::string key_marker = q.param("key-marker") ? *q.param("key-marker") : "";
  std::string version_marker = q.param("version-id-marker") ? *q.param("version-id-marker") : "";
  if (!version_marker.empty() && key_marker.empty())
    return error(c, make_s3_error(400, "InvalidArgument", "A version-id marker cannot be specified without a key marker."));
  if (names_a_version(version_marker))
    return error(c, make_s3_error(400, "InvalidArgument", "Invalid version id specified"));
  // After (key-marker, its one version): after the key.
  lr.start_after = key_marker;
  auto enc = [&](const std::string& s) { return listing->key(s); };
  auto res = gw_->list_objects(*ns, lr);
  if (!res) return error(c, res.status(), Subject::kBucket);
  if (Status st = listing->check(*res); !st) return error(c, st, Subject::kBucket);
  std::string owner = std::to_string(ns->tenant);
  XmlWriter x;
  x.open("ListVersionsResult", true).leaf("Name", c.req.bucket).leaf("Prefix", enc(lr.prefix));
  x.leaf("KeyMarker", enc(key_marker)).leaf("VersionIdMarker", version_marker);
  x.leaf("MaxKeys", std::to_string(lr.max_keys));
  if (!lr.delimiter.empty()) x.leaf("Delimiter", enc(lr.delimiter));
  if (listing->url) x.leaf("EncodingType", "url");
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
