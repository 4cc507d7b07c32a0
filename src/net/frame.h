// The native frame: one codec for the client protocol (kiseki mount, libkiseki)
// and the cluster's node-to-node fabric. A frame is a 32-byte header and a
// payload; every integer is big-endian (docs/native-protocol.md):
//
//    0  u32  magic "KSKI"
//    4  u8   version (1)
//    5  u8   flags   (kFlagResponse on answers)
//    6  u16  opcode
//    8  u64  request id: an answer carries the id of its request, so many
//            requests are in flight on one connection and answered in any order
//   16  u32  status: an ErrorCode on answers (0: ok, the payload is the result;
//            else the payload is the message), 0 on requests
//   20  u32  deadline: the milliseconds the caller still waits (0: none)
//   24  u32  payload length, at most the reader's cap
//   28  u32  CRC32C of bytes 0..27 and the payload
//
// A bad magic, version or length ends the connection at once (nothing after it
// can be framed); a bad CRC is answered with a kCorruption frame and the
// connection goes on.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "net/record.h"

namespace kiseki::net {

constexpr uint32_t kFrameMagic = 0x4b534b49;  // "KSKI"
constexpr uint8_t kFrameVersion = 1;
constexpr size_t kFrameHeaderBytes = 32;
// The largest payload a reader takes unless told otherwise: an 8 MiB object
// part and its arguments, with room to spare.
constexpr size_t kMaxPayloadBytes = 9u << 20;

constexpr uint8_t kFlagResponse = 1;

struct FrameHeader {
  uint8_t flags = 0;
  uint16_t opcode = 0;
  uint64_t request_id = 0;
  uint32_t status = 0;
  uint32_t deadline_ms = 0;
  uint32_t length = 0;  // filled in by encode_frame
  bool response() const { return flags & kFlagResponse; }
};

// Appends header and payload as one frame to `out`. `tail`'s bytes end the
// payload on the wire, sent after `out` as they lie (net::Reply): the length
// and the CRC count them.
void encode_frame(FrameHeader h, std::string_view payload, std::string* out, std::span<const ByteSpan> tail = {});
std::string encode_frame(const FrameHeader& h, std::string_view payload);
// The answer to `req`: status 0 and the result (`payload`, then `tail`), or an
// error and its message (no tail).
std::string encode_response(const FrameHeader& req, const Status& st, std::string_view payload = {},
                            std::span<const ByteSpan> tail = {});

struct Frame {
  FrameHeader header;
  std::string_view payload;  // into the record it was parsed from
};

// Parses one whole frame (as FrameReader returns it) into `*f`. kCorruption on
// a CRC mismatch, with `f->header` filled in all the same so that the request
// can be answered.
Status parse_frame(std::string_view record, Frame* f);
// The header alone (magic, version and length checked; no CRC).
Result<FrameHeader> parse_header(std::string_view bytes);

// Splits a byte stream into whole frames.
class FrameReader : public RecordReader {
 public:
  explicit FrameReader(size_t max_payload = kMaxPayloadBytes) : max_(max_payload) {}
  // Takes received bytes; an error (bad magic, version, or a length over the
  // cap) means the stream cannot be framed: close the connection.
  Status feed(std::string_view bytes) override;
  std::optional<std::string> next() override;
  bool has_record() const override { return pos_ < ready_.size(); }
  size_t buffered() const override { return buf_.size(); }
  size_t footprint() const override { return buf_.capacity(); }

 private:
  size_t max_;
  std::string buf_;  // the frame being received
  std::vector<std::string> ready_;
  size_t pos_ = 0;
};

}  // namespace kiseki::net
