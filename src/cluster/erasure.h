// Reed–Solomon erasure coding of sealed chunks with Intel ISA-L
// (docs/cluster.md#erasure-coding). A sealed chunk is cut into K data
// fragments (zero-padded to equal length) and M parity fragments; any K of the
// K+M rebuild it. Each fragment travels and is stored as a fragment record:
//
//   u8 format (1) · u8 K · u8 M · u8 index · u32 sealed length · u32 CRC32C of
//   the fragment bytes · fragment bytes
//
// so a fragment damaged anywhere (disk, network, memory) is refused by its CRC
// before it can enter a decode.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace kiseki::cluster {

constexpr uint32_t kMaxDataFragments = 32;
constexpr uint32_t kMaxParityFragments = 8;
constexpr size_t kFragmentHeaderSize = 12;

struct FragmentHeader {
  uint8_t k = 0, m = 0, index = 0;
  uint32_t sealed_length = 0;  // of the whole sealed chunk
  uint32_t crc = 0;            // of the fragment bytes
};

// Checks a fragment record (header fields and CRC); `bytes` is set to the
// fragment bytes inside `record`.
Result<FragmentHeader> parse_fragment(std::string_view record, std::string_view* bytes);

class ErasureCode {
 public:
  // The code for K data and M parity fragments (shared, built once).
  static Result<std::shared_ptr<const ErasureCode>> get(uint32_t k, uint32_t m);

  uint32_t k() const { return k_; }
  uint32_t m() const { return m_; }
  // Bytes per fragment for a sealed chunk of `n` bytes.
  size_t fragment_size(size_t n) const;
  // The K+M fragment records of `sealed`.
  std::vector<std::string> encode(std::string_view sealed) const;
  // The sealed chunk again from fragment records (index → record); at least K
  // of them must be good. Damaged ones are skipped and their indexes added to
  // `bad` when given.
  using Records = std::map<uint32_t, std::string_view>;
  Status decode(const Records& records, std::string* sealed, std::vector<uint32_t>* bad = nullptr) const;
  Status decode(const std::map<uint32_t, std::string>& records, std::string* sealed,
                std::vector<uint32_t>* bad = nullptr) const {
    return decode(views(records), sealed, bad);
  }
  // The fragment records `want` (ascending) rebuilt from any K good ones among
  // `records` (index → record), without the whole chunk: what repair sends.
  Result<std::vector<std::string>> rebuild(const Records& records, const std::vector<uint32_t>& want) const;
  static Records views(const std::map<uint32_t, std::string>& records) {
    Records v;
    for (const auto& [i, r] : records) v.emplace(i, r);
    return v;
  }
  // Fragment record `index` of the chunk `sealed`.
  std::string fragment(std::string_view sealed, uint32_t index) const;

  // The raw coding steps, on equal-length buffers (benchmarks and tests).
  void encode_raw(size_t len, const uint8_t* const* data, uint8_t* const* parity) const;
  // Rebuilds the fragments `want` from the K fragments `have` (indexes
  // ascending, `src` in their order; `out` in the order of `want`, ascending).
  Status rebuild_raw(size_t len, const std::vector<uint32_t>& have, const uint8_t* const* src,
                     const std::vector<uint32_t>& want, uint8_t* const* out) const;

 private:
  ErasureCode(uint32_t k, uint32_t m);
  struct Good;
  Good good_records(const Records& records, std::vector<uint32_t>* bad) const;
  // Decode tables for a pattern of surviving and wanted fragments (cached).
  Result<std::shared_ptr<const std::string>> tables_for(const std::vector<uint32_t>& have,
                                                        const std::vector<uint32_t>& want) const;
  uint32_t k_, m_;
  std::string matrix_;       // (K+M)×K Cauchy matrix, identity on top
  std::string encode_tbls_;  // ec_init_tables of the parity rows
  mutable std::mutex mu_;
  mutable std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const std::string>> decode_tbls_;
};

}  // namespace kiseki::cluster
