#include "protocols/s3/aws_chunked.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstring>

namespace kiseki::s3 {

namespace {
constexpr size_t kMaxLine = 4096;
constexpr uint64_t kMaxChunk = 64ull << 20;
Status bad(std::string m) { return invalid_argument("aws-chunked: " + std::move(m)); }
}  // namespace

struct AwsChunkedReader::Sha256 {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Sha256() { EVP_MD_CTX_free(ctx); }
  void reset() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx, p, n); }
  std::string finish_hex() {
    crypto::Digest d;
    EVP_DigestFinal_ex(ctx, d.data(), nullptr);
    return to_hex(d);
  }
};

AwsChunkedReader::AwsChunkedReader(gateway::ByteSource raw, std::optional<ChunkSigning> signing,
                                   bool expect_trailer, uint64_t decoded_length)
    : raw_(std::move(raw)), signing_(std::move(signing)), expect_trailer_(expect_trailer),
      decoded_length_(decoded_length), sha_(std::make_shared<Sha256>()) {
  if (signing_) prev_signature_ = signing_->seed_signature;
}

gateway::ByteSource AwsChunkedReader::source() {
  return [this](MutableByteSpan out) { return read(out); };
}

Status AwsChunkedReader::fill(size_t want) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  while (buf_.size() - pos_ < want && !raw_eof_) {
    if (pos_ > (1 << 20)) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + std::max<size_t>(want, 64 << 10));
    auto n = raw_({reinterpret_cast<uint8_t*>(buf_.data()) + old, buf_.size() - old});
    if (!n) {
      buf_.resize(old);
      return n.status();
    }
    buf_.resize(old + *n);
    if (*n == 0) raw_eof_ = true;
  }
  return Status::ok();
}

Result<std::string> AwsChunkedReader::read_line(size_t max) {
  for (;;) {
    size_t crlf = buf_.find("\r\n", pos_);
    if (crlf != std::string::npos) {
      if (crlf - pos_ > max) return bad("line too long");
      std::string line = buf_.substr(pos_, crlf - pos_);
      pos_ = crlf + 2;
      return line;
    }
    if (buf_.size() - pos_ > max) return bad("line too long");
    if (raw_eof_) return bad("body truncated");
    KISEKI_TRY(fill(buf_.size() - pos_ + 1));
  }
}

Status AwsChunkedReader::start_chunk() {
  KISEKI_ASSIGN_OR_RETURN(std::string line, read_line(kMaxLine));
  std::string_view l(line);
  auto semi = l.find(';');
  std::string_view size_hex = l.substr(0, semi);
  uint64_t size = 0;
  auto [p, ec] = std::from_chars(size_hex.data(), size_hex.data() + size_hex.size(), size, 16);
  if (ec != std::errc() || p != size_hex.data() + size_hex.size() || size_hex.empty()) return bad("bad chunk size");
  if (size > kMaxChunk) return bad("chunk too large");
  chunk_signature_.clear();
  if (semi != std::string_view::npos) {
    std::string_view ext = l.substr(semi + 1);
    constexpr std::string_view kSig = "chunk-signature=";
    if (ext.substr(0, kSig.size()) != kSig) return bad("unknown chunk extension");
    chunk_signature_ = std::string(ext.substr(kSig.size()));
  }
  if (signing_ && chunk_signature_.size() != 64) return make_error(ErrorCode::kPermissionDenied, "chunk signature missing");
  chunk_left_ = size;
  in_chunk_ = true;
  sha_->reset();
  if (size == 0) return finish_chunk();
  return Status::ok();
}

Status AwsChunkedReader::finish_chunk() {
  in_chunk_ = false;
  if (signing_) {
    std::string sts = "AWS4-HMAC-SHA256-PAYLOAD\n" + signing_->amz_date + "\n" + signing_->credential.scope() + "\n" +
                      prev_signature_ + "\n" + std::string(kEmptySha256) + "\n" + sha_->finish_hex();
    std::string want = sign_hex(signing_->key, sts);
    if (!signatures_equal(want, chunk_signature_))
      return make_error(ErrorCode::kPermissionDenied, "aws-chunked: chunk signature does not match");
    prev_signature_ = want;
  }
  return Status::ok();
}

Status AwsChunkedReader::read_trailers() {
  std::string block;  // the trailer lines as signed: "name:value\n"
  std::string trailer_sig;
  for (int n = 0; n < 64; ++n) {
    KISEKI_ASSIGN_OR_RETURN(std::string line, read_line(kMaxLine));
    if (line.empty()) {
      if (signing_ && expect_trailer_ && !trailers_.empty()) {
        std::string sts = trailer_string_to_sign(signing_->amz_date, signing_->credential, prev_signature_, block);
        if (!signatures_equal(sign_hex(signing_->key, sts), trailer_sig))
          return make_error(ErrorCode::kPermissionDenied, "aws-chunked: trailer signature does not match");
      }
      return Status::ok();
    }
    auto colon = line.find(':');
    if (colon == std::string::npos) return bad("malformed trailer");
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "x-amz-trailer-signature") {
      trailer_sig = value;
      continue;
    }
    block += name + ":" + value + "\n";
    trailers_[name] = value;
  }
  return bad("too many trailers");
}

Result<size_t> AwsChunkedReader::read(MutableByteSpan out) {
  while (!done_) {
    if (!in_chunk_) {
      KISEKI_TRY(start_chunk());
      if (!in_chunk_ && chunk_left_ == 0) {
        // The zero-length chunk ends the payload; trailers (or just a blank line) follow.
        KISEKI_TRY(read_trailers());
        done_ = true;
        if (decoded_length_ != UINT64_MAX && decoded_ != decoded_length_)
          return bad("decoded length differs from x-amz-decoded-content-length");
        return size_t{0};
      }
      continue;
    }
    if (chunk_left_ == 0) {
      KISEKI_ASSIGN_OR_RETURN(std::string crlf, read_line(2));
      if (!crlf.empty()) return bad("chunk data longer than its size");
      KISEKI_TRY(finish_chunk());
      continue;
    }
    if (pos_ == buf_.size()) {
      KISEKI_TRY(fill(1));
      if (pos_ == buf_.size()) return bad("body truncated");
    }
    size_t n = std::min<uint64_t>({out.size(), chunk_left_, buf_.size() - pos_});
    std::memcpy(out.data(), buf_.data() + pos_, n);
    sha_->update(buf_.data() + pos_, n);
    pos_ += n;
    chunk_left_ -= n;
    decoded_ += n;
    return n;
  }
  return size_t{0};
}

}  // namespace kiseki::s3
