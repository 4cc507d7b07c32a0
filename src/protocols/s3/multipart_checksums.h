// Checksums of multipart uploads (x-amz-checksum-algorithm on
// CreateMultipartUpload): each part carries its own, and the completed object
// gets either a COMPOSITE checksum (the algorithm over the parts' checksums,
// "…-N") or, for the CRCs, a FULL_OBJECT one (the CRC of the whole object,
// combined from the parts' CRCs and sizes without reading a byte again).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiseki::s3 {

// The upload's choice, kept in its metadata until completion (never sent back
// as headers of the object: "x-kiseki-" names are internal).
inline constexpr const char* kUploadChecksumAlgo = "x-kiseki-checksum-algorithm";  // crc32 | crc32c | sha1 | sha256
inline constexpr const char* kUploadChecksumType = "x-kiseki-checksum-type";       // COMPOSITE | FULL_OBJECT

// "CRC32" (any case) → "crc32"; "" for an algorithm Kiseki does not have.
std::string checksum_algo(std::string_view name);
std::string checksum_algo_upper(std::string_view algo);  // "crc32" → "CRC32"

// base64(algo(concatenated raw part checksums)) + "-N".
Result<std::string> composite_checksum(std::string_view algo, const std::vector<std::string>& parts_b64);
// The CRC (crc32 or crc32c) of the concatenated parts, from each part's
// base64 CRC and size.
Result<std::string> full_object_crc(std::string_view algo, const std::vector<std::pair<std::string, uint64_t>>& parts);

// crc(A·B) from crc(A), crc(B) and |B|, for a reflected CRC-32 with the
// polynomial `poly` (0xEDB88320: CRC-32, 0x82F63B78: CRC-32C).
uint32_t crc32_combine_poly(uint32_t poly, uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

}  // namespace kiseki::s3
