#include "protocols/s3/body.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <cstring>

#include "common/crc32c.h"

namespace kiseki::s3 {

std::string base64_encode(ByteSpan b) {
  std::string out(4 * ((b.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool base64_decode(std::string_view s, Bytes* out) {
  if (s.empty() || s.size() % 4 != 0) return false;
  out->resize(3 * s.size() / 4);
  int n = EVP_DecodeBlock(out->data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return false;
  size_t pad = (s.back() == '=') + (s.size() > 1 && s[s.size() - 2] == '=');
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

namespace {

struct Md {
  EVP_MD_CTX* ctx = nullptr;
  explicit Md(const EVP_MD* md) : ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx, md, nullptr); }
  ~Md() { EVP_MD_CTX_free(ctx); }
  void update(ByteSpan b) { EVP_DigestUpdate(ctx, b.data(), b.size()); }
  Bytes finish() {
    Bytes d(EVP_MAX_MD_SIZE);
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx, d.data(), &n);
    d.resize(n);
    return d;
  }
};

Status tagged(const char* tag, std::string msg) { return invalid_argument(std::string(tag) + ": " + msg); }

Bytes be32(uint32_t v) {
  Bytes b(4);
  put_be32(b.data(), v);
  return b;
}

}  // namespace

struct BodyReader::Digests {
  std::unique_ptr<Md> sha256, md5, sha1, sha256_checksum;
  uint32_t crc32 = 0, crc32c = 0;
  bool want_crc32 = false, want_crc32c = false;
};

BodyReader::~BodyReader() = default;

Result<std::unique_ptr<BodyReader>> BodyReader::make(const S3Request& req, const AuthResult& auth,
                                                     gateway::ByteSource raw,
                                                     std::map<std::string, std::string>* checksum_sink,
                                                     bool md5_by_caller) {
  std::unique_ptr<BodyReader> b(new BodyReader());
  b->sink_ = checksum_sink;
  b->d_ = std::make_unique<Digests>();
  const std::string& ph = auth.payload_hash;
  bool chunked = ph == kStreamingPayload || ph == kStreamingPayloadTrailer || ph == kStreamingUnsignedTrailer;
  if (chunked) {
    const std::string* dl = req.header("x-amz-decoded-content-length");
    uint64_t decoded = UINT64_MAX;
    if (dl) {
      try {
        decoded = std::stoull(*dl);
      } catch (...) {
        return tagged("InvalidArgument", "bad x-amz-decoded-content-length");
      }
    }
    bool trailer = ph != kStreamingPayload;
    b->chunked_ = std::make_unique<AwsChunkedReader>(std::move(raw), auth.chunk_signing, trailer, decoded);
    b->inner_ = b->chunked_->source();
  } else {
    b->inner_ = std::move(raw);
    if (ph.size() == 64) {
      b->want_sha256_hex_ = ph;
      b->d_->sha256 = std::make_unique<Md>(EVP_sha256());
    } else if (!ph.empty() && ph != kUnsignedPayload) {
      return tagged("InvalidArgument", "x-amz-content-sha256 must be a SHA-256 hex digest or a known mode");
    }
  }
  if (const std::string* md5 = req.header("content-md5")) {
    Bytes raw_md5;
    if (!base64_decode(*md5, &raw_md5) || raw_md5.size() != 16)
      return tagged("InvalidDigest", "The Content-MD5 you specified is not valid.");
    if (md5_by_caller) {
      b->content_md5_.emplace();
      std::memcpy(b->content_md5_->data(), raw_md5.data(), 16);
    } else {
      b->want_md5_b64_ = *md5;
      b->d_->md5 = std::make_unique<Md>(EVP_md5());
    }
  }
  // One additional checksum: named in a header with its value, or announced in
  // x-amz-trailer and sent after the body.
  std::string trailer = req.header_or("x-amz-trailer");
  for (const char* algo : {"crc32", "crc32c", "sha1", "sha256"}) {
    std::string name = std::string("x-amz-checksum-") + algo;
    const std::string* v = req.header(name);
    if (v || trailer == name) {
      if (!b->checksum_algo_.empty()) return tagged("InvalidRequest", "more than one checksum algorithm");
      b->checksum_algo_ = algo;
      if (v) b->want_checksum_b64_ = *v;
      else b->checksum_in_trailer_ = true;
    }
  }
  if (!trailer.empty() && !b->checksum_in_trailer_) return tagged("InvalidRequest", "unsupported x-amz-trailer");
  if (b->checksum_in_trailer_ && !chunked) return tagged("InvalidRequest", "a trailer needs an aws-chunked body");
  if (b->checksum_algo_ == "crc32") b->d_->want_crc32 = true;
  if (b->checksum_algo_ == "crc32c") b->d_->want_crc32c = true;
  if (b->checksum_algo_ == "sha1") b->d_->sha1 = std::make_unique<Md>(EVP_sha1());
  if (b->checksum_algo_ == "sha256") b->d_->sha256_checksum = std::make_unique<Md>(EVP_sha256());
  return b;
}

gateway::ByteSource BodyReader::source() {
  return [this](MutableByteSpan out) { return read(out); };
}

Result<size_t> BodyReader::read(MutableByteSpan out) {
  auto n = inner_(out);
  if (!n) {
    if (n.code() == ErrorCode::kPermissionDenied) return tagged("SignatureDoesNotMatch", n.status().message());
    return n;
  }
  if (*n == 0) {
    KISEKI_TRY(finish());
    return size_t{0};
  }
  ByteSpan got(out.data(), *n);
  bytes_ += *n;
  if (d_->sha256) d_->sha256->update(got);
  if (d_->md5) d_->md5->update(got);
  if (d_->sha1) d_->sha1->update(got);
  if (d_->sha256_checksum) d_->sha256_checksum->update(got);
  if (d_->want_crc32) d_->crc32 = crc32_gzip_refl(d_->crc32, const_cast<uint8_t*>(got.data()), got.size());
  if (d_->want_crc32c) d_->crc32c = crc32c(got.data(), got.size(), d_->crc32c);
  return n;
}

Status BodyReader::finish() {
  if (finished_) return Status::ok();
  finished_ = true;
  if (d_->sha256 && to_hex(d_->sha256->finish()) != want_sha256_hex_)
    return tagged("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  if (d_->md5 && base64_encode(d_->md5->finish()) != want_md5_b64_)
    return tagged("BadDigest", "The Content-MD5 you specified did not match what we received.");
  if (!checksum_algo_.empty()) {
    Bytes digest;
    if (checksum_algo_ == "crc32") digest = be32(d_->crc32);
    if (checksum_algo_ == "crc32c") digest = be32(d_->crc32c);
    if (checksum_algo_ == "sha1") digest = d_->sha1->finish();
    if (checksum_algo_ == "sha256") digest = d_->sha256_checksum->finish();
    std::string got = base64_encode(digest);
    std::string name = "x-amz-checksum-" + checksum_algo_;
    std::string want = want_checksum_b64_;
    if (checksum_in_trailer_) {
      auto it = chunked_->trailers().find(name);
      if (it == chunked_->trailers().end()) return tagged("InvalidRequest", "the announced checksum trailer is missing");
      want = it->second;
    }
    if (got != want)
      return tagged("BadDigest", "The " + checksum_algo_ + " you specified did not match the calculated checksum.");
    verified_[name] = got;
    if (sink_) (*sink_)[name] = got;
  }
  return Status::ok();
}

}  // namespace kiseki::s3
