#include "protocols/s3/form_data.h"

#include <algorithm>
#include <cstring>

#include "common/text.h"

namespace kiseki::s3 {

namespace {

constexpr size_t kReadBytes = 64 << 10;
constexpr size_t kMaxPartHeaderBytes = 16 << 10;

Status malformed(const std::string& why) {
  return invalid_argument("MalformedPOSTRequest: The body of your POST request is not well-formed "
                          "multipart/form-data (" + why + ")");
}

// The value of `param` in "form-data; name=\"key\"; filename=\"a.txt\"", unquoted.
bool header_param(std::string_view header, std::string_view param, std::string* out) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    // A quoted value may hold ';': the part ends after its closing quote.
    size_t eq = header.find('=', pos);
    if (eq != std::string_view::npos && eq < semi) {
      size_t v = eq + 1;
      while (v < header.size() && header[v] == ' ') ++v;
      if (v < header.size() && header[v] == '"') {
        size_t close = v + 1;
        std::string value;
        // Browsers send a quote inside as %22 and a backslash as it is (a
        // Windows path): no escapes.
        while (close < header.size() && header[close] != '"') value += header[close++];
        if (ascii_lower(trim_blanks(header.substr(pos, eq - pos))) == param) {
          *out = value;
          return true;
        }
        semi = header.find(';', close);
      } else if (ascii_lower(trim_blanks(header.substr(pos, eq - pos))) == param) {
        size_t n = semi == std::string_view::npos ? std::string_view::npos : semi - v;
        *out = std::string(trim_blanks(header.substr(v, n)));
        return true;
      }
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return false;
}

}  // namespace

std::string form_boundary(std::string_view content_type) {
  size_t semi = content_type.find(';');
  if (semi == std::string_view::npos || ascii_lower(trim_blanks(content_type.substr(0, semi))) != "multipart/form-data")
    return "";
  std::string b;
  if (!header_param(content_type.substr(semi + 1), "boundary", &b) || b.empty() || b.size() > 70) return "";
  return b;
}

// The body is read as if it began with "\r\n": every delimiter, the first too,
// is then "\r\n--boundary", and what precedes the first is a preamble to skip.
FormDataReader::FormDataReader(gateway::ByteSource body, std::string boundary)
    : body_(std::move(body)), delimiter_("\r\n--" + boundary), buf_("\r\n"), in_content_(true) {}

Status FormDataReader::fill() {
  if (eof_) return malformed("the body ends inside a part");
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + kReadBytes);
  auto n = body_({reinterpret_cast<uint8_t*>(buf_.data() + old), kReadBytes});
  if (!n) {
    buf_.resize(old);
    return n.status();
  }
  buf_.resize(old + *n);
  consumed_ += *n;
  if (*n == 0) {
    eof_ = true;
    return malformed("the body ends inside a part");
  }
  return Status::ok();
}

Result<size_t> FormDataReader::read(MutableByteSpan out) {
  if (!in_content_) return size_t{0};
  for (;;) {
    size_t found = buf_.find(delimiter_, pos_);
    size_t avail = found == std::string::npos
                       ? (buf_.size() - pos_ > delimiter_.size() ? buf_.size() - pos_ - delimiter_.size() : 0)
                       : found - pos_;
    if (avail > 0 && out.size() > 0) {
      size_t n = std::min(avail, out.size());
      std::memcpy(out.data(), buf_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    if (found != std::string::npos) {
      // The part ends here: what follows the delimiter is "--" (the last) or
      // optional blanks and the next part's headers, left for next().
      pos_ = found + delimiter_.size();
      while (buf_.size() - pos_ < 2) KISEKI_TRY(fill());
      in_content_ = false;
      if (buf_.compare(pos_, 2, "--") == 0) {
        done_ = true;
        pos_ += 2;
      } else {
        while (pos_ < buf_.size() || !eof_) {
          if (pos_ == buf_.size()) KISEKI_TRY(fill());
          if (buf_[pos_] != ' ' && buf_[pos_] != '\t') break;
          ++pos_;
        }
      }
      return size_t{0};
    }
    KISEKI_TRY(fill());
  }
}

Status FormDataReader::skip_content() {
  uint8_t scratch[16384];
  for (;;) {
    KISEKI_ASSIGN_OR_RETURN(size_t n, read({scratch, sizeof(scratch)}));
    if (n == 0) return Status::ok();
  }
}

Result<bool> FormDataReader::next(FormPart* part) {
  if (in_content_) KISEKI_TRY(skip_content());
  if (done_) {
    // The epilogue: read to the end, ignored.
    while (!eof_) {
      pos_ = buf_.size();
      if (Status st = fill(); !st && !eof_) return st;
    }
    return false;
  }
  // "\r\n" header lines "\r\n\r\n" (an empty block is "\r\n\r\n" too).
  size_t end;
  while ((end = buf_.find("\r\n\r\n", pos_)) == std::string::npos) {
    if (buf_.size() - pos_ > kMaxPartHeaderBytes) return malformed("a part's headers are too long");
    KISEKI_TRY(fill());
  }
  if (buf_.compare(pos_, 2, "\r\n") != 0) return malformed("no line break after a boundary");
  std::string_view block(buf_.data() + pos_ + 2, end >= pos_ + 2 ? end - pos_ - 2 : 0);
  *part = {};
  bool named = false;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("a part header without a colon");
    std::string name = ascii_lower(trim_blanks(line.substr(0, colon)));
    std::string_view value = trim_blanks(line.substr(colon + 1));
    if (name == "content-disposition") {
      named = header_param(value, "name", &part->name);
      header_param(value, "filename", &part->filename);
    } else if (name == "content-type") {
      part->content_type = std::string(value);
    }
  }
  if (!named) return malformed("a part without a Content-Disposition name");
  pos_ = end + 4;
  in_content_ = true;
  return true;
}

Result<std::string> FormDataReader::read_value(size_t limit) {
  std::string out;
  char tmp[4096];
  for (;;) {
    KISEKI_ASSIGN_OR_RETURN(size_t n, read({reinterpret_cast<uint8_t*>(tmp), sizeof(tmp)}));
    if (n == 0) return out;
    if (out.size() + n > limit) return invalid_argument("MaxPostPreDataLengthExceeded: Your POST request fields "
                                                        "preceding the upload file were too large.");
    out.append(tmp, n);
  }
}

}  // namespace kiseki::s3
