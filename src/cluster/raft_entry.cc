#include "cluster/raft_entry.h"

#include <cstring>

#include "common/bytes.h"
#include "common/crc32c.h"

namespace kiseki::cluster {

void encode_raft_entry(std::string_view record, char* out) {
  size_t size = raft_entry_size(record.size());
  auto* p = reinterpret_cast<uint8_t*>(out);
  put_be32(p, static_cast<uint32_t>(record.size()));
  put_be32(p + 4, crc32c(record.data(), record.size()));
  std::memcpy(out + kRaftEntryHeader, record.data(), record.size());
  std::memset(out + kRaftEntryHeader + record.size(), 0, size - kRaftEntryHeader - record.size());
}

Result<std::string_view> decode_raft_entry(std::string_view entry) {
  if (entry.size() < kRaftEntryHeader || entry.size() % 8 != 0)
    return corruption("Raft entry of " + std::to_string(entry.size()) + " bytes is not a Kiseki entry");
  const auto* p = reinterpret_cast<const uint8_t*>(entry.data());
  uint32_t n = get_be32(p);
  if (raft_entry_size(n) != entry.size())
    return corruption("Raft entry of " + std::to_string(entry.size()) + " bytes names a record of " +
                      std::to_string(n) + " bytes");
  std::string_view record = entry.substr(kRaftEntryHeader, n);
  if (crc32c(record.data(), record.size()) != get_be32(p + 4))
    return corruption("Raft entry fails its CRC");
  for (char c : entry.substr(kRaftEntryHeader + n))
    if (c != 0) return corruption("Raft entry has non-zero padding");
  return record;
}

}  // namespace kiseki::cluster
