#include "tools/s3_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <pugixml.hpp>

#include "common/bytes.h"
#include "common/file_util.h"
#include "crypto/primitives.h"
#include "protocols/s3/sigv4.h"

namespace kiseki::tools {

namespace {

Status s3_error(const HttpReply& r, const std::string& what) {
  pugi::xml_document doc;
  std::string msg = "HTTP " + std::to_string(r.status);
  if (doc.load_buffer(r.body.data(), r.body.size())) {
    auto e = doc.child("Error");
    std::string code = e.child_value("Code"), message = e.child_value("Message");
    if (!code.empty()) msg = code + (message.empty() ? "" : ": " + message);
  }
  ErrorCode c = r.status == 404 ? ErrorCode::kNotFound
                : r.status == 403 ? ErrorCode::kPermissionDenied
                : r.status == 409 ? ErrorCode::kConflict
                                  : ErrorCode::kIoError;
  return make_error(c, what + ": " + msg);
}

std::string object_path(const std::string& bucket, const std::string& key) {
  std::string p = "/";
  if (!bucket.empty()) p += bucket;
  if (!key.empty()) p += "/" + key;
  return p;
}

Status write_all(int fd, const std::string& data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("write " + what, errno);
    off += static_cast<size_t>(n);
  }
  return Status::ok();
}

Result<std::string> read_at(int fd, uint64_t off, uint64_t len, const std::string& what) {
  std::string buf(len, '\0');
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("read " + what, errno);
    if (n == 0) return io_error(what + " shrank while it was read");
    got += static_cast<size_t>(n);
  }
  return buf;
}

}  // namespace

Status load_credentials(const std::string& file, const std::string& profile, S3Endpoint* ep) {
  KISEKI_ASSIGN_OR_RETURN(std::string text, read_file(file));
  std::string section;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    auto trim = [](std::string s) {
      while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
      size_t i = s.find_first_not_of(" \t");
      return i == std::string::npos ? std::string() : s.substr(i);
    };
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto eq = line.find('=');
    if (section != profile || eq == std::string::npos) continue;
    std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") ep->access_key = v;
    if (k == "aws_secret_access_key") ep->secret_key = v;
  }
  if (ep->access_key.empty() || ep->secret_key.empty())
    return invalid_argument("no aws_access_key_id and aws_secret_access_key for [" + profile + "] in " + file);
  return Status::ok();
}

Result<HttpReply> S3Client::call(const std::string& method, const std::string& bucket, const std::string& key,
                                 const std::vector<std::pair<std::string, std::string>>& query,
                                 const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& extra) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char amz_date[20], date[10];
  std::strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
  std::strftime(date, sizeof(date), "%Y%m%d", &tm);
  std::string payload_hash = to_hex(crypto::sha256(as_bytes(body)));
  std::string host = host_port_of(ep_.url);

  s3::QueryParams params(query.begin(), query.end());
  std::map<std::string, std::vector<std::string>> headers = {
      {"host", {host}}, {"x-amz-content-sha256", {payload_hash}}, {"x-amz-date", {amz_date}}};
  std::vector<std::string> signed_headers = {"host", "x-amz-content-sha256", "x-amz-date"};
  std::string path = object_path(bucket, key);
  s3::CanonicalInput in{method, path, &params, &headers, &signed_headers, payload_hash};
  s3::Credential cred{ep_.access_key, date, ep_.region, "s3"};
  std::string sts = s3::string_to_sign(amz_date, cred, s3::canonical_request(in));
  std::string sig = s3::sign_hex(s3::signing_key(ep_.secret_key, cred), sts);

  HttpCall c;
  c.what = "S3";
  c.method = method;
  c.target = s3::uri_encode(path, true);
  std::string q = s3::canonical_query(params);
  if (!q.empty()) c.target += "?" + q;
  c.body = body;
  c.headers = {{"x-amz-content-sha256", payload_hash},
               {"x-amz-date", amz_date},
               {"Authorization", std::string(s3::kAlgorithm) + " Credential=" + ep_.access_key + "/" + cred.scope() +
                                     ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + sig}};
  for (const auto& h : extra) c.headers.push_back(h);
  return http_call(ep_.url, c);
}

Status S3Client::put_file(const std::string& path, const std::string& bucket, const std::string& key,
                          const Progress& progress, uint64_t part_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) return errno_status("stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return invalid_argument(path + " is not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (progress) progress(0, size);
  if (size <= part_size) {
    KISEKI_ASSIGN_OR_RETURN(std::string body, read_at(fd, 0, size, path));
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, call("PUT", bucket, key, {}, body));
    if (r.status != 200) return s3_error(r, "PUT s3://" + bucket + "/" + key);
    if (progress) progress(size, size);
    return Status::ok();
  }
  KISEKI_ASSIGN_OR_RETURN(HttpReply init, call("POST", bucket, key, {{"uploads", ""}}, ""));
  if (init.status != 200) return s3_error(init, "start the upload of s3://" + bucket + "/" + key);
  pugi::xml_document doc;
  doc.load_buffer(init.body.data(), init.body.size());
  std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) return io_error("the server sent no UploadId");
  std::string complete = "<CompleteMultipartUpload>";
  auto abort = [&](Status why) {
    (void)call("DELETE", bucket, key, {{"uploadId", upload_id}}, "");
    return why;
  };
  uint32_t part = 0;
  for (uint64_t off = 0; off < size; off += part_size) {
    ++part;
    auto body = read_at(fd, off, std::min(part_size, size - off), path);
    if (!body) return abort(body.status());
    auto r = call("PUT", bucket, key, {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, *body);
    if (!r) return abort(r.status());
    if (r->status != 200) return abort(s3_error(*r, "upload part " + std::to_string(part)));
    complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + r->headers["etag"] +
                "</ETag></Part>";
    if (progress) progress(off + body->size(), size);
  }
  complete += "</CompleteMultipartUpload>";
  auto r = call("POST", bucket, key, {{"uploadId", upload_id}}, complete);
  if (!r) return abort(r.status());
  // CompleteMultipartUpload can answer 200 with an error in the body.
  if (r->status != 200 || r->body.find("<Error>") != std::string::npos)
    return abort(s3_error(*r, "complete the upload of s3://" + bucket + "/" + key));
  return Status::ok();
}

Status S3Client::get_file(const std::string& bucket, const std::string& key, const std::string& path,
                          const Progress& progress, uint64_t part_size) {
  KISEKI_ASSIGN_OR_RETURN(HttpReply head, call("HEAD", bucket, key, {}, ""));
  if (head.status != 200) return s3_error(head, "s3://" + bucket + "/" + key);
  uint64_t size = std::stoull(head.headers.count("content-length") ? head.headers["content-length"] : "0");
  std::string etag = head.headers["etag"];
  bool to_stdout = path == "-";
  std::string tmp = path + ".kiseki-part";
  int fd = to_stdout ? 1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("create " + tmp, errno);
  auto fail = [&](Status why) {
    if (!to_stdout) {
      ::close(fd);
      ::unlink(tmp.c_str());
    }
    return why;
  };
  if (progress) progress(0, size);
  for (uint64_t off = 0; off < size; off += part_size) {
    uint64_t end = std::min(size, off + part_size) - 1;
    // If-Match: a file that changes in the middle is an error, not a mix of two.
    auto r = call("GET", bucket, key, {}, "",
                  {{"Range", "bytes=" + std::to_string(off) + "-" + std::to_string(end)}, {"If-Match", etag}});
    if (!r) return fail(r.status());
    if (r->status != 206 && r->status != 200) return fail(s3_error(*r, "GET s3://" + bucket + "/" + key));
    KISEKI_TRY(write_all(fd, r->body, to_stdout ? "standard output" : tmp));
    if (progress) progress(end + 1, size);
  }
  if (to_stdout) return Status::ok();
  if (::fsync(fd) != 0) return fail(errno_status("fsync " + tmp, errno));
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_status("rename to " + path, errno);
  return Status::ok();
}

Result<std::vector<ObjectEntry>> S3Client::list(const std::string& bucket, const std::string& prefix,
                                                bool recursive) {
  std::vector<ObjectEntry> out;
  std::string token;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"prefix", prefix}};
    if (!recursive) q.emplace_back("delimiter", "/");
    if (!token.empty()) q.emplace_back("continuation-token", token);
    KISEKI_ASSIGN_OR_RETURN(HttpReply r, call("GET", bucket, "", q, ""));
    if (r.status != 200) return s3_error(r, "list s3://" + bucket + "/" + prefix);
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    auto res = doc.child("ListBucketResult");
    for (auto p : res.children("CommonPrefixes")) out.push_back({p.child_value("Prefix"), 0, "", true});
    for (auto c : res.children("Contents"))
      out.push_back({c.child_value("Key"), std::stoull(c.child_value("Size")), c.child_value("LastModified"), false});
    if (std::string(res.child_value("IsTruncated")) != "true") break;
    token = res.child_value("NextContinuationToken");
    if (token.empty()) break;
  }
  return out;
}

Result<std::vector<ObjectEntry>> S3Client::list_buckets() {
  KISEKI_ASSIGN_OR_RETURN(HttpReply r, call("GET", "", "", {}, ""));
  if (r.status != 200) return s3_error(r, "list buckets");
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  std::vector<ObjectEntry> out;
  for (auto b : doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket"))
    out.push_back({b.child_value("Name"), 0, b.child_value("CreationDate"), true});
  return out;
}

Status S3Client::remove(const std::string& bucket, const std::string& key) {
  KISEKI_ASSIGN_OR_RETURN(HttpReply r, call("DELETE", bucket, key, {}, ""));
  if (r.status != 204 && r.status != 200) return s3_error(r, "DELETE s3://" + bucket + "/" + key);
  return Status::ok();
}

}  // namespace kiseki::tools
