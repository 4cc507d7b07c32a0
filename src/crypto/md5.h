// MD5 for S3 ETags. Every PUT hashes its whole body, and MD5 is the largest
// single cost of a PUT (docs/performance.md); a stream cannot be split, but
// concurrent PUTs are many. So the blocks of concurrent streams are hashed
// together: 16 streams in the lanes of AVX-512 registers, or 8 in AVX2's
// (md5_lanes.cc), for about the time of one. A stream's thread hands its
// blocks in and waits while whichever thread is hashing (flat combining) takes
// them into a free lane; a stream with no company is hashed alone (OpenSSL's
// block function). A PUT queues its body's blocks without waiting and has them
// hashed later, beside the other PUTs of its log group (update_deferred).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"

namespace kiseki::crypto {

// The MD5 chaining state; feeds `nblocks` 64-byte blocks, alone.
void md5_blocks_alone(uint32_t h[4], const uint8_t* p, size_t nblocks);
// The same, hashed in a lane beside other threads' streams when there are any.
void md5_blocks_shared(uint32_t h[4], const uint8_t* p, size_t nblocks);
// How many streams share a round here: 16 (AVX-512), 8 (AVX2), or 0 if every
// stream goes alone (neither, or KISEKI_MD5_LANES=off; =avx2 caps it at 8).
int md5_lane_width();
// `n` streams of `nblocks` blocks each, `width` (16 or 8; 0: md5_lane_width())
// at a time in lanes, narrower where the CPU lacks AVX-512 and alone where it
// lacks AVX2: the kernels themselves, for tests and benchmarks.
void md5_blocks_lanes(uint32_t (*h)[4], const uint8_t* const* p, int n, size_t nblocks, int width = 0);
// Rounds the combiner ran, and the lanes they filled in all (their ratio is how
// many streams shared a round on average).
struct Md5LaneStats {
  uint64_t rounds = 0;
  uint64_t lanes = 0;
};
Md5LaneStats md5_lane_stats();

// Blocks queued for a round without waiting (md5_blocks_defer), and the wait
// for them that takes their chaining state back (md5_blocks_settle, once).
struct Md5Job;
Md5Job* md5_blocks_defer(const uint32_t h[4], const uint8_t* p, size_t nblocks);
void md5_blocks_settle(Md5Job* job, uint32_t h[4]);

class Md5 {
 public:
  Md5() = default;
  Md5(Md5&& o) noexcept;
  Md5& operator=(Md5&& o) noexcept;
  ~Md5();

  void update(ByteSpan b);
  // Like update(), but a long run of blocks is only queued: it is hashed in a
  // round with other streams' when some thread next hashes, by finish() at the
  // latest. A PUT defers its body's last run while it syncs its chunks, so
  // that the rounds after the sync find several streams to hash together.
  // The bytes must stay as they are until finish() (or the destructor); only
  // finish() may follow.
  void update_deferred(ByteSpan b);
  std::array<uint8_t, 16> finish();

 private:
  void settle();

  uint32_t h_[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  uint8_t buf_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
  Md5Job* deferred_ = nullptr;  // blocks queued by update_deferred, not yet settled
};

}  // namespace kiseki::crypto
