// Bucket versioning (ADR 0012): Put/GetBucketVersioning and ListObjectVersions.
// The Gateway keeps the versions; this file speaks S3 about them.

#include <pugixml.hpp>

#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

Response S3Handler::put_bucket_versioning(Ctx& c) {
  c.op = "PutBucketVersioning";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  pugi::xml_document doc;
  if (!doc.load_buffer(body->data(), body->size()) || !doc.child("VersioningConfiguration"))
    return error(c, make_s3_error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"));
  auto root = doc.child("VersioningConfiguration");
  std::string status = root.child_value("Status");
  if (std::string(root.child_value("MfaDelete")) == "Enabled")
    return error(c, make_s3_error(501, "NotImplemented", "MFA delete is not supported"));
  if (status.empty()) return Response{};  // nothing asked: S3 leaves the state as it is
  if (status != "Enabled" && status != "Suspended")
    return error(c, make_s3_error(400, "MalformedXML", "Status is Enabled or Suspended"));
  if (status == "Suspended") {
    auto lock = lock_config_of(*ns);
    if (!lock) return error(c, lock.status(), Subject::kBucket);
    if (*lock)
      return error(c, make_s3_error(409, "InvalidBucketState",
                                    "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."));
  }
  Status st = gw_->put_namespace_config(*ns, gateway::kVersioningItem, status);
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_bucket_versioning(Ctx& c) {
  c.op = "GetBucketVersioning";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto doc = gw_->get_namespace_config(*ns, gateway::kVersioningItem);
  if (!doc && doc.code() != ErrorCode::kNotFound) return error(c, doc.status(), Subject::kBucket);
  XmlWriter x;
  x.open("VersioningConfiguration", true);
  if (doc) x.leaf("Status", *doc);
  x.close("VersioningConfiguration");
  return xml_response(x);
}

Result<gateway::ObjectHandle> S3Handler::open_named_version(gateway::NsRef ns, const std::string& key,
                                                            const std::string* version_id) const {
  if (!version_id) return gw_->open_object(ns, key);
  // An id no version could have names none (S3 answers some such with
  // InvalidArgument; NoSuchVersion is what clients look for).
  if (!gateway::well_formed_version_id(*version_id)) return not_found(kNoSuchVersion);
  auto h = gw_->open_object_version(ns, key, *version_id);
  if (!h && h.code() == ErrorCode::kNotFound) return not_found(kNoSuchVersion);
  return h;
}

Status S3Handler::only_current_version(gateway::NsRef ns, const S3Request& q) const {
  const std::string* version = q.param("versionId");
  if (!version) return Status::ok();
  KISEKI_ASSIGN_OR_RETURN(gateway::ObjectHandle h, open_named_version(ns, q.key, version));
  auto cur = gw_->head_object(ns, q.key);
  if (!cur) return cur.status();
  std::string cur_id = cur->version_id.empty() ? std::string(gateway::kNullVersion) : cur->version_id;
  if (h.info.version_id != cur_id)
    return make_error(ErrorCode::kNotSupported, "changing a version that is not the current one is not supported");
  return Status::ok();
}

Response S3Handler::list_object_versions(Ctx& c) {
  c.op = "ListObjectVersions";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  const S3Request& q = c.req;
  auto listing = Listing::of(q);
  if (!listing) return error(c, listing.status(), Subject::kBucket);
  const gateway::ListRequest& lr = listing->request;
  std::string key_marker = q.param("key-marker") ? *q.param("key-marker") : "";
  std::string version_marker = q.param("version-id-marker") ? *q.param("version-id-marker") : "";
  if (!version_marker.empty() && key_marker.empty())
    return error(c, make_s3_error(400, "InvalidArgument", "A version-id marker cannot be specified without a key marker."));
  if (!version_marker.empty() && !gateway::well_formed_version_id(version_marker))
    return error(c, make_s3_error(400, "InvalidArgument", "Invalid version id specified"));

  // The Gateway lists versions flat; keys with the delimiter after the prefix
  // roll up here into common prefixes, each skipped past once listed.
  gateway::VersionListRequest vr;
  vr.prefix = lr.prefix;
  vr.key_marker = key_marker;
  vr.version_id_marker = version_marker;
  auto common_prefix = [&](const std::string& key) -> std::string {
    if (lr.delimiter.empty() || !key.starts_with(lr.prefix)) return "";
    size_t d = key.find(lr.delimiter, lr.prefix.size());
    return d == std::string::npos ? "" : key.substr(0, d + lr.delimiter.size());
  };
  // A key marker that is a common prefix (a NextKeyMarker) resumes after all of it.
  if (!key_marker.empty() && common_prefix(key_marker) == key_marker) {
    vr.key_marker = key_marker + "\xff";
    vr.version_id_marker.clear();
  }
  std::vector<gateway::ObjectVersion> versions;
  std::vector<std::string> prefixes;
  bool truncated = false;
  std::string next_key, next_version;
  const size_t max = lr.max_keys;
  while (!truncated) {
    vr.max_keys = static_cast<uint32_t>(max - versions.size() - prefixes.size() + 1);
    auto res = gw_->list_object_versions(*ns, vr);
    if (!res) return error(c, res.status(), Subject::kBucket);
    bool skipped = false;
    for (auto& v : res->versions) {
      std::string cp = common_prefix(v.info.key);
      if (versions.size() + prefixes.size() == max) {
        truncated = true;
        break;
      }
      if (!cp.empty()) {
        prefixes.push_back(cp);
        next_key = cp;
        next_version.clear();
        vr.key_marker = cp + "\xff";
        vr.version_id_marker.clear();
        skipped = true;
        break;
      }
      next_key = v.info.key;
      next_version = v.info.version_id;
      vr.key_marker = v.info.key;
      vr.version_id_marker = v.info.version_id;
      versions.push_back(std::move(v));
    }
    if (!skipped && !res->truncated) break;
  }
  for (const auto& v : versions)
    if (Status st = listing->check_key(v.info.key); !st) return error(c, st, Subject::kBucket);
  for (const auto& p : prefixes)
    if (Status st = listing->check_key(p); !st) return error(c, st, Subject::kBucket);

  auto enc = [&](const std::string& s) { return listing->key(s); };
  std::string owner = std::to_string(ns->tenant);
  XmlWriter x;
  x.open("ListVersionsResult", true).leaf("Name", c.req.bucket).leaf("Prefix", enc(lr.prefix));
  x.leaf("KeyMarker", enc(key_marker)).leaf("VersionIdMarker", version_marker);
  x.leaf("MaxKeys", std::to_string(lr.max_keys));
  if (!lr.delimiter.empty()) x.leaf("Delimiter", enc(lr.delimiter));
  if (listing->url) x.leaf("EncodingType", "url");
  x.leaf("IsTruncated", truncated ? "true" : "false");
  if (truncated) {
    x.leaf("NextKeyMarker", enc(next_key));
    if (!next_version.empty()) x.leaf("NextVersionIdMarker", next_version);
  }
  for (const auto& v : versions) {
    const gateway::ObjectInfo& o = v.info;
    const char* tag = o.delete_marker ? "DeleteMarker" : "Version";
    x.open(tag).leaf("Key", enc(o.key)).leaf("VersionId", o.version_id).leaf("IsLatest", v.latest ? "true" : "false");
    x.leaf("LastModified", iso8601(o.mtime_ns));
    if (!o.delete_marker) {
      x.leaf("ETag", quoted(o.etag)).leaf("Size", std::to_string(o.size)).leaf("StorageClass", "STANDARD");
    }
    x.open("Owner").leaf("ID", owner).leaf("DisplayName", owner).close("Owner");
    x.close(tag);
  }
  for (const auto& p : prefixes) x.open("CommonPrefixes").leaf("Prefix", enc(p)).close("CommonPrefixes");
  x.close("ListVersionsResult");
  return xml_response(x);
}

}  // namespace kiseki::s3
