// CRC32C (Castagnoli), the checksum of every chunk record. Uses ISA-L's
// hardware-accelerated crc32_iscsi under the standard convention (init ~0, final xor).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiseki {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace kiseki
