#include "chunk/chunker.h"

#include <array>
#include <bit>

namespace kiseki::chunk {
namespace {

constexpr uint32_t kMinChunk = 4 << 10;
constexpr uint32_t kMaxChunk = 4 << 20;

// The gear table: 256 pseudo-random words from splitmix64, fixed forever because
// chunk boundaries (and so dedup across versions) depend on it.
constexpr std::array<uint64_t, 256> make_gear() {
  std::array<uint64_t, 256> g{};
  uint64_t x = 0x6b6973656b69ull;  // "kiseki"
  for (auto& v : g) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v = z ^ (z >> 31);
  }
  return g;
}
constexpr auto kGear = make_gear();

// A mask of `bits` ones in the high end of the word: with the left-shifting gear
// hash, high bits depend on the last 64 bytes, which is the rolling window.
constexpr uint64_t high_mask(unsigned bits) { return bits == 0 ? 0 : ~0ull << (64 - bits); }

}  // namespace

Status ChunkerParams::validate() const {
  if (min_size < kMinChunk || max_size > kMaxChunk)
    return invalid_argument("chunk sizes must lie within 4 KiB .. 4 MiB");
  if (!(min_size <= avg_size && avg_size <= max_size))
    return invalid_argument("chunk sizes must satisfy min <= avg <= max");
  if (kind == Kind::kFastCdc && !std::has_single_bit(avg_size))
    return invalid_argument("FastCDC average chunk size must be a power of two");
  return Status::ok();
}

void Chunker::split(ByteSpan data, std::vector<size_t>* lengths) const {
  size_t off = 0;
  while (off < data.size()) {
    size_t n = next_cut(data.subspan(off), true);
    lengths->push_back(n);
    off += n;
  }
}

std::unique_ptr<Chunker> make_chunker(const ChunkerParams& p) {
  if (p.kind == ChunkerParams::Kind::kFixed) return std::make_unique<FixedChunker>(p.avg_size);
  return std::make_unique<FastCdcChunker>(p.min_size, p.avg_size, p.max_size);
}

size_t FixedChunker::next_cut(ByteSpan data, bool eof) const {
  if (data.size() >= size_) return size_;
  return eof ? data.size() : 0;
}

FastCdcChunker::FastCdcChunker(uint32_t min_size, uint32_t avg_size, uint32_t max_size)
    : min_(min_size), avg_(avg_size), max_(max_size) {
  unsigned bits = static_cast<unsigned>(std::countr_zero(avg_size));
  mask_small_ = high_mask(bits + 1);
  mask_large_ = high_mask(bits - 1);
}

namespace {

// The first position in [i, end) where the gear hash, rolled on from `fp`,
// has none of `mask`'s bits set; `end` if there is none. Two bytes per step:
// the hash after the second byte, (fp << 2) + (g0 << 1) + g1, does not wait for
// the hash after the first, so the dependency chain is half as long. The
// values (and so every cut) are exactly those of the byte-at-a-time loop.
inline size_t scan(const uint8_t* p, size_t i, size_t end, uint64_t mask, uint64_t* fp_io) {
  uint64_t fp = *fp_io;
  for (; i + 2 <= end; i += 2) {
    uint64_t g0 = kGear[p[i]], g1 = kGear[p[i + 1]];
    uint64_t f0 = (fp << 1) + g0;
    uint64_t f1 = (fp << 2) + ((g0 << 1) + g1);
    if (((f0 & mask) == 0) | ((f1 & mask) == 0)) {
      if ((f0 & mask) == 0) {
        *fp_io = f0;
        return i;
      }
      *fp_io = f1;
      return i + 1;
    }
    fp = f1;
  }
  for (; i < end; ++i) {
    fp = (fp << 1) + kGear[p[i]];
    if ((fp & mask) == 0) {
      *fp_io = fp;
      return i;
    }
  }
  *fp_io = fp;
  return end;
}

}  // namespace

size_t FastCdcChunker::next_cut(ByteSpan data, bool eof) const {
  size_t n = data.size();
  if (n < max_ && !eof) return 0;  // a cut may still lie beyond what we have
  if (n <= min_) return n;
  if (n > max_) n = max_;
  size_t normal = std::min<size_t>(avg_, n);
  const uint8_t* p = data.data();
  uint64_t fp = 0;
  size_t i = scan(p, min_, normal, mask_small_, &fp);
  if (i < normal) return i + 1;
  i = scan(p, normal, n, mask_large_, &fp);
  return i < n ? i + 1 : n;
}

}  // namespace kiseki::chunk
