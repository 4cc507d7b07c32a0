// multipart/form-data (RFC 7578) read as it streams: the small fields of a
// browser upload into memory, the file part straight into the Gateway.
#pragma once

#include <string>
#include <string_view>

#include "gateway/types.h"

namespace kiseki::s3 {

struct FormPart {
  std::string name;          // Content-Disposition's name, as sent
  std::string filename;      // its filename, if any
  std::string content_type;  // the part's Content-Type, if any
};

// The boundary of a "multipart/form-data; boundary=…" Content-Type, or "".
std::string form_boundary(std::string_view content_type);

class FormDataReader {
 public:
  FormDataReader(gateway::ByteSource body, std::string boundary);
  // The next part's headers; false after the last part. The previous part's
  // content is skipped if it was not read. Errors say MalformedPOSTRequest.
  Result<bool> next(FormPart* part);
  // The current part's content, up to `limit` bytes (more: an error).
  Result<std::string> read_value(size_t limit);
  // The current part's content as it streams; ends at the part's boundary.
  Result<size_t> read(MutableByteSpan out);
  uint64_t consumed() const { return consumed_; }

 private:
  Status fill();  // reads more of the body into buf_; kInvalidArgument at its end
  Status skip_content();

  gateway::ByteSource body_;
  std::string delimiter_;  // "\r\n--" boundary
  std::string buf_;        // received, not yet handed out
  size_t pos_ = 0;         // start of what is not yet handed out
  bool eof_ = false;
  bool in_content_ = false;  // between a part's headers and its delimiter
  bool done_ = false;        // the closing delimiter was read
  uint64_t consumed_ = 0;
};

}  // namespace kiseki::s3
