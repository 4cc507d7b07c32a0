#include "chunk/segment.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/crc32c.h"

namespace kiseki::chunk {

static uint32_t record_crc(const uint8_t* header, ByteSpan payload) {
  uint32_t crc = crc32c(header + 8, 4 + 32);
  return crc32c(payload.data(), payload.size(), crc);
}

void encode_record_header(const ChunkId& id, ByteSpan payload, uint8_t* header) {
  put_be32(header, kRecordMagic);
  put_be32(header + 8, static_cast<uint32_t>(payload.size()));
  std::memcpy(header + 12, id.bytes.data(), 32);
  put_be32(header + 4, record_crc(header, payload));
}

Status verify_record(const uint8_t* header, ByteSpan payload, const ChunkId* expect_id) {
  if (get_be32(header) != kRecordMagic) return corruption("chunk record: bad magic");
  if (get_be32(header + 8) != payload.size()) return corruption("chunk record: length mismatch");
  if (expect_id && std::memcmp(header + 12, expect_id->bytes.data(), 32) != 0)
    return corruption("chunk record: chunk id mismatch");
  if (get_be32(header + 4) != record_crc(header, payload))
    return corruption("chunk record: CRC32C mismatch");
  return Status::ok();
}

std::string segment_file_name(SegmentId id) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "seg-%016" PRIx64 ".log", id);
  return buf;
}

bool parse_segment_file_name(std::string_view name, SegmentId* id) {
  if (name.size() != 24 || name.substr(0, 4) != "seg-" || name.substr(20) != ".log") return false;
  Bytes b;
  if (!from_hex(name.substr(4, 16), &b)) return false;
  *id = get_be64(b.data());
  return true;
}

Result<uint64_t> scan_segment(int fd, SegmentId seg, uint64_t file_size,
                              const std::function<void(const ScannedRecord&)>& visit) {
  uint64_t off = 0;
  Bytes buf;
  uint8_t header[kRecordHeaderSize];
  while (off + kRecordHeaderSize <= file_size) {
    if (::pread(fd, header, sizeof(header), static_cast<off_t>(off)) != sizeof(header)) break;
    if (get_be32(header) != kRecordMagic) break;
    uint32_t len = get_be32(header + 8);
    if (len > kMaxRecordPayload || off + kRecordHeaderSize + len > file_size) break;
    buf.resize(len);
    if (::pread(fd, buf.data(), len, static_cast<off_t>(off + kRecordHeaderSize)) != len) break;
    if (!verify_record(header, buf, nullptr).is_ok()) break;
    ScannedRecord r;
    std::memcpy(r.id.bytes.data(), header + 12, 32);
    r.loc = {seg, off, len};
    visit(r);
    off += kRecordHeaderSize + len;
  }
  return off;
}

bool valid_record_after(int fd, uint64_t from, uint64_t file_size) {
  static constexpr uint8_t kMagic[4] = {'K', 'S', 'C', 'R'};
  Bytes window(1 << 20);
  Bytes payload;
  for (uint64_t base = from + 1; base + kRecordHeaderSize <= file_size; base += window.size() - 3) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(window.size(), file_size - base));
    if (::pread(fd, window.data(), n, static_cast<off_t>(base)) != static_cast<ssize_t>(n)) return false;
    for (size_t i = 0; i + 4 <= n; ++i) {
      if (std::memcmp(window.data() + i, kMagic, 4) != 0) continue;
      uint64_t off = base + i;
      uint8_t header[kRecordHeaderSize];
      if (::pread(fd, header, sizeof(header), static_cast<off_t>(off)) != sizeof(header)) continue;
      uint32_t len = get_be32(header + 8);
      if (len > kMaxRecordPayload || off + kRecordHeaderSize + len > file_size) continue;
      payload.resize(len);
      if (::pread(fd, payload.data(), len, static_cast<off_t>(off + kRecordHeaderSize)) != len) continue;
      if (verify_record(header, payload, nullptr).is_ok()) return true;
    }
    if (n < window.size()) break;
  }
  return false;
}

}  // namespace kiseki::chunk
