// Segment files: append-only logs of sealed chunk records.
//
// Record (docs/formats.md):
//   magic u32 "KSCR" · crc32c u32 · length u32 · chunk id (32) · payload (length)
// The CRC32C covers length · chunk id · payload. A record that fails any check
// is corruption; a failed record at the tail of the newest segment is a torn
// write and is cut off at recovery.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"

namespace kiseki::chunk {

constexpr uint32_t kRecordMagic = 0x4b534352;  // "KSCR"
constexpr size_t kRecordHeaderSize = 4 + 4 + 4 + 32;
constexpr uint32_t kMaxRecordPayload = 8 << 20;

struct Location {
  SegmentId segment = 0;
  uint64_t offset = 0;   // of the record header
  uint32_t length = 0;   // of the payload (the sealed chunk)
  uint64_t record_size() const { return kRecordHeaderSize + length; }
};

void encode_record_header(const ChunkId& id, ByteSpan payload, uint8_t* header);

// Checks a record read from disk; kCorruption on any mismatch.
Status verify_record(const uint8_t* header, ByteSpan payload, const ChunkId* expect_id);

std::string segment_file_name(SegmentId id);
bool parse_segment_file_name(std::string_view name, SegmentId* id);

// Visits every valid record of a segment file from offset 0 and stops at the first
// invalid one. Returns the offset where valid records end.
struct ScannedRecord {
  ChunkId id;
  Location loc;
};
Result<uint64_t> scan_segment(int fd, SegmentId seg, uint64_t file_size,
                              const std::function<void(const ScannedRecord&)>& visit);

// True if a whole, valid record starts anywhere in (from, file_size): then the
// damage at `from` is corruption in the middle, not a torn tail.
bool valid_record_after(int fd, uint64_t from, uint64_t file_size);

}  // namespace kiseki::chunk
