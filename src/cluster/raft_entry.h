// How a delta record travels as a Raft entry. libraft 0.15 pads entries to 8
// bytes when it decodes a batch (a message or a segment of several entries)
// but not when it encodes one, so an entry whose length is not a multiple of 8
// makes every entry after it in the batch point at the wrong bytes. Every
// entry is therefore a multiple of 8 long:
//
//   u32 record length · u32 CRC32C of the record · record · zero padding
//
// and the CRC makes any entry that still arrives damaged an error, never a
// wrong record applied.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kiseki::cluster {

constexpr size_t kRaftEntryHeader = 8;

// The entry's size for a record of `n` bytes (a multiple of 8).
constexpr size_t raft_entry_size(size_t n) { return (kRaftEntryHeader + n + 7) & ~size_t{7}; }

// Writes the entry for `record` into `out`, which holds raft_entry_size(record.size()) bytes.
void encode_raft_entry(std::string_view record, char* out);

// The record an entry carries; kCorruption when the entry is not one.
Result<std::string_view> decode_raft_entry(std::string_view entry);

}  // namespace kiseki::cluster
