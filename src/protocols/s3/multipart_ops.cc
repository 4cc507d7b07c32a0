// S3 multipart uploads: create, parts (and part copies), complete, abort, list.
#include <algorithm>

#include "protocols/s3/body.h"
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/multipart_checksums.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

Response S3Handler::create_upload(Ctx& c) {
  c.op = "CreateMultipartUpload";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = key_error_if_invalid(c.req.key); !st) return error(c, st, Subject::kObject);
  auto meta = meta_from(c.req);
  if (!meta) return error(c, meta.status(), Subject::kObject);
  if (Status st = lock_for_write(c.req, c.now, *ns, &*meta); !st) return error(c, st, Subject::kObject);
  // The object's checksum: each part's own, then a COMPOSITE or FULL_OBJECT one.
  std::string algo, type = c.req.header_or("x-amz-checksum-type", "COMPOSITE");
  if (const std::string* a = c.req.header("x-amz-checksum-algorithm")) {
    algo = checksum_algo(*a);
    if (algo.empty())
      return error(c, make_s3_error(400, "InvalidRequest", "Checksum algorithm " + *a + " is not supported here"));
  } else if (c.req.header("x-amz-checksum-type")) {
    return error(c, make_s3_error(400, "InvalidRequest", "x-amz-checksum-type needs x-amz-checksum-algorithm"));
  }
  if (type != "COMPOSITE" && type != "FULL_OBJECT")
    return error(c, make_s3_error(400, "InvalidRequest", "x-amz-checksum-type is COMPOSITE or FULL_OBJECT"));
  if (type == "FULL_OBJECT" && algo != "crc32" && algo != "crc32c")
    return error(c, make_s3_error(400, "InvalidRequest", "A FULL_OBJECT checksum is a CRC32 or CRC32C here"));
  if (!algo.empty()) {
    meta->headers[kUploadChecksumAlgo] = algo;
    meta->headers[kUploadChecksumType] = type;
  }
  auto id = gw_->create_upload(*ns, c.req.key, *meta);
  if (!id) return error(c, id.status(), Subject::kObject);
  XmlWriter x;
  x.open("InitiateMultipartUploadResult", true).leaf("Bucket", c.req.bucket).leaf("Key", c.req.key);
  x.leaf("UploadId", *id).close("InitiateMultipartUploadResult");
  Response r = xml_response(x);
  if (!algo.empty()) {
    r.set("x-amz-checksum-algorithm", checksum_algo_upper(algo));
    r.set("x-amz-checksum-type", type);
  }
  return r;
}

static Result<uint32_t> part_number(const S3Request& q) {
  const std::string* p = q.param("partNumber");
  if (!p || p->empty() || p->size() > 5) return invalid_argument("Part number must be an integer between 1 and 10000, inclusive");
  for (char ch : *p)
    if (ch < '0' || ch > '9') return invalid_argument("Part number must be an integer between 1 and 10000, inclusive");
  uint32_t n = static_cast<uint32_t>(std::stoul(*p));
  if (n < 1 || n > gateway::kMaxPartNumber)
    return invalid_argument("Part number must be an integer between 1 and 10000, inclusive");
  return n;
}

Response S3Handler::upload_part(Ctx& c) {
  c.op = "UploadPart";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto n = part_number(c.req);
  if (!n) return error(c, n.status(), Subject::kObject);
  if (!c.req.param("uploadId")) return error(c, not_found(""), Subject::kUpload);
  if (c.body.content_length > opts_.max_single_put_bytes && c.auth.payload_hash.rfind("STREAMING", 0) != 0)
    return error(c, make_s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."));
  std::map<std::string, std::string> checksums;  // verified as the body ends, kept with the part
  auto body = BodyReader::make(c.req, c.auth, c.body.raw, &checksums, /*md5_by_caller=*/true);
  if (!body) return error(c, body.status(), Subject::kObject);
  auto part = gw_->upload_part(*ns, *c.req.param("uploadId"), *n, (*body)->source(), &checksums,
                               (*body)->content_md5());
  c.bytes_in += (*body)->bytes();
  if (!part) return error(c, part.status(), Subject::kUpload);
  Response r;
  r.set("ETag", quoted(part->etag));
  for (const auto& [k, v] : (*body)->checksums()) r.set(k, v);
  return r;
}

Response S3Handler::upload_part_copy(Ctx& c) {
  c.op = "UploadPartCopy";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto n = part_number(c.req);
  if (!n) return error(c, n.status(), Subject::kObject);
  std::string sb, sk, sv;
  if (!parse_copy_source(c.req.header_or("x-amz-copy-source"), &sb, &sk, &sv))
    return error(c, make_s3_error(400, "InvalidArgument", "Copy Source must mention the source bucket and key"));
  auto src = copy_source(c, sb, sk, sv);
  if (!src) return error(c, src.status(), Subject::kBucket);
  auto h = open_named_version(*src, sk, sv.empty() ? nullptr : &sv);
  if (!h) return error(c, h.status(), Subject::kObject);
  if (h->info.delete_marker)
    return error(c, make_s3_error(400, "InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id."));
  uint64_t off = 0, len = h->info.size;
  if (const std::string* range = c.req.header("x-amz-copy-source-range")) {
    bool unsatisfiable = false;
    if (!parse_range(*range, h->info.size, &off, &len, &unsatisfiable) || unsatisfiable || range->find("=-") != std::string::npos)
      return error(c, make_s3_error(400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last"));
  }
  // The copied bytes stream from the source into the part.
  uint64_t pos = off, end = off + len;
  gateway::ObjectHandle handle = *h;
  gateway::Gateway* gw = gw_;
  gateway::ByteSource src_bytes = [&, gw](MutableByteSpan out) -> Result<size_t> {
    if (pos >= end) return size_t{0};
    Bytes piece;
    KISEKI_TRY(gw->read_object(handle, pos, std::min<uint64_t>(out.size(), end - pos), &piece));
    std::memcpy(out.data(), piece.data(), piece.size());
    pos += piece.size();
    return piece.size();
  };
  auto part = gw_->upload_part(*ns, c.req.param("uploadId") ? *c.req.param("uploadId") : "", *n, src_bytes);
  if (!part) return error(c, part.status(), Subject::kUpload);
  XmlWriter x;
  x.open("CopyPartResult", true).leaf("LastModified", iso8601(part->mtime_ns)).leaf("ETag", quoted(part->etag));
  x.close("CopyPartResult");
  return xml_response(x);
}

Response S3Handler::complete_upload(Ctx& c) {
  c.op = "CompleteMultipartUpload";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 4 << 20);
  if (!body) return error(c, body.status(), Subject::kUpload);
  std::map<uint32_t, std::map<std::string, std::string>> asked;  // the parts' checksums the request names
  auto parts = parse_complete_multipart(*body, &asked);
  if (!parts) return error(c, parts.status(), Subject::kUpload);
  std::string algo, type, value;
  auto checksum = [&](const std::vector<gateway::PartInfo>& chosen, gateway::ObjectMeta* m) -> Status {
    algo = m->headers[kUploadChecksumAlgo];
    type = m->headers[kUploadChecksumType];
    m->headers.erase(kUploadChecksumAlgo);
    m->headers.erase(kUploadChecksumType);
    if (algo.empty()) return Status::ok();
    std::string name = "x-amz-checksum-" + algo;
    std::vector<std::string> each;
    std::vector<std::pair<std::string, uint64_t>> sized;
    for (const auto& p : chosen) {
      auto it = p.checksums.find(name);
      if (it == p.checksums.end())
        return invalid_argument("InvalidPart: part " + std::to_string(p.number) + " was uploaded without its " +
                                checksum_algo_upper(algo) + " checksum");
      if (auto a = asked[p.number].find(name); a != asked[p.number].end() && a->second != it->second)
        return invalid_argument("InvalidPart: the " + checksum_algo_upper(algo) + " checksum of part " +
                                std::to_string(p.number) + " is not the one uploaded");
      each.push_back(it->second);
      sized.emplace_back(it->second, p.size);
    }
    KISEKI_ASSIGN_OR_RETURN(value, type == "FULL_OBJECT" ? full_object_crc(algo, sized) : composite_checksum(algo, each));
    if (const std::string* whole = c.req.header(name); whole && *whole != value)
      return invalid_argument("BadDigest: The " + checksum_algo_upper(algo) +
                              " you specified did not match the calculated checksum.");
    m->headers[name] = value;
    m->headers["x-amz-checksum-type"] = type;
    return Status::ok();
  };
  auto info = gw_->complete_upload(*ns, *c.req.param("uploadId"), *parts, checksum);
  if (!info) return error(c, info.status(), Subject::kUpload);
  XmlWriter x;
  x.open("CompleteMultipartUploadResult", true).leaf("Location", "/" + c.req.bucket + "/" + info->key);
  x.leaf("Bucket", c.req.bucket).leaf("Key", info->key).leaf("ETag", quoted(info->etag));
  if (!algo.empty()) x.leaf("Checksum" + checksum_algo_upper(algo), value).leaf("ChecksumType", type);
  x.close("CompleteMultipartUploadResult");
  Response r = xml_response(x);
  if (!info->version_id.empty()) r.set("x-amz-version-id", info->version_id);
  return r;
}

Response S3Handler::abort_upload(Ctx& c) {
  c.op = "AbortMultipartUpload";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  Status st = gw_->abort_upload(*ns, *c.req.param("uploadId"));
  if (!st) return error(c, st, Subject::kUpload);
  Response r;
  r.status = 204;
  return r;
}

Response S3Handler::list_parts(Ctx& c) {
  c.op = "ListParts";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto parts = gw_->list_parts(*ns, *c.req.param("uploadId"));
  if (!parts) return error(c, parts.status(), Subject::kUpload);
  uint32_t marker = 0, max = 1000;
  if (const std::string* m = c.req.param("part-number-marker")) marker = static_cast<uint32_t>(std::atoi(m->c_str()));
  if (const std::string* m = c.req.param("max-parts")) max = static_cast<uint32_t>(std::clamp(std::atoi(m->c_str()), 0, 1000));
  XmlWriter x;
  x.open("ListPartsResult", true).leaf("Bucket", c.req.bucket).leaf("Key", c.req.key);
  x.leaf("UploadId", *c.req.param("uploadId")).leaf("PartNumberMarker", std::to_string(marker));
  x.leaf("MaxParts", std::to_string(max)).leaf("StorageClass", "STANDARD");
  uint32_t n = 0, last = marker;
  bool truncated = false;
  for (const auto& p : *parts) {
    if (p.number <= marker) continue;
    if (n == max) {
      truncated = true;
      break;
    }
    ++n;
    last = p.number;
    x.open("Part").leaf("PartNumber", std::to_string(p.number)).leaf("LastModified", iso8601(p.mtime_ns));
    x.leaf("ETag", quoted(p.etag)).leaf("Size", std::to_string(p.size));
    for (const auto& [name, v] : p.checksums)  // x-amz-checksum-crc32 → ChecksumCRC32
      x.leaf("Checksum" + checksum_algo_upper(std::string_view(name).substr(15)), v);
    x.close("Part");
  }
  x.leaf("NextPartNumberMarker", std::to_string(last)).leaf("IsTruncated", truncated ? "true" : "false");
  x.close("ListPartsResult");
  return xml_response(x);
}

}  // namespace kiseki::s3
