#include "net/frame.h"

#include "common/bytes.h"
#include "common/crc32c.h"

namespace kiseki::net {

namespace {

void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint32_t frame_crc(const uint8_t* header, std::string_view payload, std::span<const ByteSpan> tail = {}) {
  uint32_t crc = crc32c(payload.data(), payload.size(), crc32c(header, 28));
  for (ByteSpan t : tail) crc = crc32c(t.data(), t.size(), crc);
  return crc;
}

}  // namespace

void encode_frame(FrameHeader h, std::string_view payload, std::string* out, std::span<const ByteSpan> tail) {
  size_t length = payload.size();
  for (ByteSpan t : tail) length += t.size();
  uint8_t b[kFrameHeaderBytes];
  put_be32(b, kFrameMagic);
  b[4] = kFrameVersion;
  b[5] = h.flags;
  put_be16(b + 6, h.opcode);
  put_be64(b + 8, h.request_id);
  put_be32(b + 16, h.status);
  put_be32(b + 20, h.deadline_ms);
  put_be32(b + 24, static_cast<uint32_t>(length));
  put_be32(b + 28, frame_crc(b, payload, tail));
  out->reserve(out->size() + sizeof(b) + payload.size());
  out->append(reinterpret_cast<const char*>(b), sizeof(b));
  out->append(payload);
}

std::string encode_frame(const FrameHeader& h, std::string_view payload) {
  std::string out;
  encode_frame(h, payload, &out);
  return out;
}

std::string encode_response(const FrameHeader& req, const Status& st, std::string_view payload,
                            std::span<const ByteSpan> tail) {
  FrameHeader h;
  h.flags = kFlagResponse;
  h.opcode = req.opcode;
  h.request_id = req.request_id;
  h.status = static_cast<uint32_t>(st.code());
  std::string out;
  if (st) encode_frame(h, payload, &out, tail);
  else encode_frame(h, st.message(), &out);
  return out;
}

Result<FrameHeader> parse_header(std::string_view bytes) {
  if (bytes.size() < kFrameHeaderBytes) return invalid_argument("frame shorter than its header");
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (get_be32(b) != kFrameMagic) return invalid_argument("not a Kiseki frame (bad magic)");
  if (b[4] != kFrameVersion) return invalid_argument("frame version " + std::to_string(b[4]) + " not supported");
  FrameHeader h;
  h.flags = b[5];
  h.opcode = static_cast<uint16_t>(b[6] << 8 | b[7]);
  h.request_id = get_be64(b + 8);
  h.status = get_be32(b + 16);
  h.deadline_ms = get_be32(b + 20);
  h.length = get_be32(b + 24);
  return h;
}

Status parse_frame(std::string_view record, Frame* f) {
  KISEKI_ASSIGN_OR_RETURN(f->header, parse_header(record));
  if (record.size() != kFrameHeaderBytes + f->header.length) return invalid_argument("frame length does not match");
  f->payload = record.substr(kFrameHeaderBytes);
  const auto* b = reinterpret_cast<const uint8_t*>(record.data());
  if (get_be32(b + 28) != frame_crc(b, f->payload)) return corruption("frame CRC mismatch");
  return Status::ok();
}

Status FrameReader::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (buf_.size() < kFrameHeaderBytes) {
      size_t take = std::min(bytes.size(), kFrameHeaderBytes - buf_.size());
      buf_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buf_.size() < kFrameHeaderBytes) {
        // What is not a frame is refused from its first bytes, not after 32.
        static constexpr char kStart[] = {'K', 'S', 'K', 'I', static_cast<char>(kFrameVersion)};
        if (std::string_view(buf_).substr(0, sizeof(kStart)) !=
            std::string_view(kStart, std::min(buf_.size(), sizeof(kStart)))) {
          buf_.clear();
          return invalid_argument("not a Kiseki frame (bad magic or version)");
        }
        break;
      }
    }
    auto h = parse_header(buf_);
    if (!h) {
      buf_.clear();
      return h.status();
    }
    if (h->length > max_) {
      buf_.clear();
      return invalid_argument("frame payload of " + std::to_string(h->length) + " bytes over the cap of " +
                              std::to_string(max_));
    }
    size_t want = kFrameHeaderBytes + h->length;
    if (buf_.capacity() < want) buf_.reserve(want);
    size_t take = std::min(bytes.size(), want - buf_.size());
    buf_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buf_.size() == want) {
      ready_.push_back(std::move(buf_));
      buf_ = std::string();
    }
  }
  return Status::ok();
}

std::optional<std::string> FrameReader::next() {
  if (pos_ == ready_.size()) {
    ready_.clear();
    pos_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[pos_++]);
}

}  // namespace kiseki::net
