#include "common/crc32c.h"

#include <isa-l/crc.h>

namespace kiseki {

// ISA-L's crc32_iscsi takes and returns the raw register: the standard CRC32C
// is ~crc32_iscsi(data, n, ~crc). Checked against RFC 3720 vectors in the tests.
uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  return ~crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)),
                      static_cast<int>(n), ~crc);
}

}  // namespace kiseki
