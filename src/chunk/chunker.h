// Chunkers split a byte stream into chunks. Both kinds share one streaming
// interface: next_cut() says how long the next chunk at the start of `data` is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "common/status.h"

namespace kiseki::chunk {

struct ChunkerParams {
  enum class Kind : uint8_t { kFixed, kFastCdc };
  Kind kind = Kind::kFastCdc;
  uint32_t min_size = 16 << 10;
  uint32_t avg_size = 64 << 10;
  uint32_t max_size = 256 << 10;

  // Sizes within 4 KiB .. 4 MiB and min <= avg <= max; avg a power of two for CDC.
  Status validate() const;
};

class Chunker {
 public:
  virtual ~Chunker() = default;
  // Length of the first chunk of `data`. Returns 0 if more data is needed to decide
  // (only when !eof); with eof, never 0 for non-empty data.
  virtual size_t next_cut(ByteSpan data, bool eof) const = 0;
  virtual uint32_t max_size() const = 0;

  // Splits a whole buffer into chunk lengths.
  void split(ByteSpan data, std::vector<size_t>* lengths) const;
};

std::unique_ptr<Chunker> make_chunker(const ChunkerParams& p);

class FixedChunker final : public Chunker {
 public:
  explicit FixedChunker(uint32_t size) : size_(size) {}
  size_t next_cut(ByteSpan data, bool eof) const override;
  uint32_t max_size() const override { return size_; }

 private:
  uint32_t size_;
};

// FastCDC (Xia et al., USENIX ATC 2016): gear rolling hash with normalized
// chunking, a stricter mask before the average size and a looser one after.
class FastCdcChunker final : public Chunker {
 public:
  FastCdcChunker(uint32_t min_size, uint32_t avg_size, uint32_t max_size);
  size_t next_cut(ByteSpan data, bool eof) const override;
  uint32_t max_size() const override { return max_; }

 private:
  uint32_t min_, avg_, max_;
  uint64_t mask_small_, mask_large_;
};

}  // namespace kiseki::chunk
