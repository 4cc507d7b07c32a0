// The lanes of md5.h: 16 MD5 streams at once in AVX-512 registers (8 in AVX2
// ones on a CPU without AVX-512), and the flat combining that gathers
// concurrent streams into them.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "common/metrics.h"
#include "crypto/md5.h"

namespace kiseki::crypto {

namespace {

constexpr int kLanes = 16;  // at most; AVX2 fills the first 8
constexpr size_t kRoundBlocks = 64;  // 4 KiB per lane and round: newcomers join between rounds
alignas(64) const uint8_t kIdle[kRoundBlocks * 64] = {};  // what an empty lane hashes

// One MD5 step in every lane: a = b + rotl(a + f(b, c, d) + w + k, s); f is a
// ternary logic function (F 0xCA, G 0xE4, H 0x96, I 0x39).
#define STEP(f, a, b, c, d, w, k, s)                                                                  \
  a = _mm512_add_epi32(a, _mm512_add_epi32(_mm512_ternarylogic_epi32(b, c, d, f),                     \
                                           _mm512_add_epi32(w, _mm512_set1_epi32(static_cast<int>(k))))); \
  a = _mm512_add_epi32(_mm512_rol_epi32(a, s), b);

// Word j of every lane's block in w[j] (a 16 x 16 transpose of 32-bit words).
__attribute__((target("avx512f"))) inline void load_words(const uint8_t* const p[kLanes], size_t off, __m512i w[16]) {
  __m512i r[16], t[16];
  for (int l = 0; l < kLanes; ++l) r[l] = _mm512_loadu_si512(p[l] + off);
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // u[4k + m]: rows 4k..4k+3, words m, m+4, m+8, m+12 by 128-bit chunk
    r[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    r[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    r[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    r[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    __m512i x0 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0x44), x1 = _mm512_shuffle_i32x4(r[m], r[4 + m], 0xEE);
    __m512i y0 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0x44), y1 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0xEE);
    w[m] = _mm512_shuffle_i32x4(x0, y0, 0x88);
    w[m + 4] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
    w[m + 8] = _mm512_shuffle_i32x4(x1, y1, 0x88);
    w[m + 12] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
  }
}

// `nblocks` blocks of each lane's stream; st[i][lane] is word i of a lane's state.
__attribute__((target("avx512f"))) void md5_x16(uint32_t st[4][kLanes], const uint8_t* const p[kLanes],
                                                size_t nblocks) {
  __m512i a = _mm512_loadu_si512(st[0]), b = _mm512_loadu_si512(st[1]);
  __m512i c = _mm512_loadu_si512(st[2]), d = _mm512_loadu_si512(st[3]);
  for (size_t blk = 0; blk < nblocks; ++blk) {
    __m512i w[16];
    load_words(p, blk * 64, w);
    __m512i a0 = a, b0 = b, c0 = c, d0 = d;
    STEP(0xCA, a, b, c, d, w[0], 0xd76aa478u, 7);
    STEP(0xCA, d, a, b, c, w[1], 0xe8c7b756u, 12);
    STEP(0xCA, c, d, a, b, w[2], 0x242070dbu, 17);
    STEP(0xCA, b, c, d, a, w[3], 0xc1bdceeeu, 22);
    STEP(0xCA, a, b, c, d, w[4], 0xf57c0fafu, 7);
    STEP(0xCA, d, a, b, c, w[5], 0x4787c62au, 12);
    STEP(0xCA, c, d, a, b, w[6], 0xa8304613u, 17);
    STEP(0xCA, b, c, d, a, w[7], 0xfd469501u, 22);
    STEP(0xCA, a, b, c, d, w[8], 0x698098d8u, 7);
    STEP(0xCA, d, a, b, c, w[9], 0x8b44f7afu, 12);
    STEP(0xCA, c, d, a, b, w[10], 0xffff5bb1u, 17);
    STEP(0xCA, b, c, d, a, w[11], 0x895cd7beu, 22);
    STEP(0xCA, a, b, c, d, w[12], 0x6b901122u, 7);
    STEP(0xCA, d, a, b, c, w[13], 0xfd987193u, 12);
    STEP(0xCA, c, d, a, b, w[14], 0xa679438eu, 17);
    STEP(0xCA, b, c, d, a, w[15], 0x49b40821u, 22);
    STEP(0xE4, a, b, c, d, w[1], 0xf61e2562u, 5);
    STEP(0xE4, d, a, b, c, w[6], 0xc040b340u, 9);
    STEP(0xE4, c, d, a, b, w[11], 0x265e5a51u, 14);
    STEP(0xE4, b, c, d, a, w[0], 0xe9b6c7aau, 20);
    STEP(0xE4, a, b, c, d, w[5], 0xd62f105du, 5);
    STEP(0xE4, d, a, b, c, w[10], 0x02441453u, 9);
    STEP(0xE4, c, d, a, b, w[15], 0xd8a1e681u, 14);
    STEP(0xE4, b, c, d, a, w[4], 0xe7d3fbc8u, 20);
    STEP(0xE4, a, b, c, d, w[9], 0x21e1cde6u, 5);
    STEP(0xE4, d, a, b, c, w[14], 0xc33707d6u, 9);
    STEP(0xE4, c, d, a, b, w[3], 0xf4d50d87u, 14);
    STEP(0xE4, b, c, d, a, w[8], 0x455a14edu, 20);
    STEP(0xE4, a, b, c, d, w[13], 0xa9e3e905u, 5);
    STEP(0xE4, d, a, b, c, w[2], 0xfcefa3f8u, 9);
    STEP(0xE4, c, d, a, b, w[7], 0x676f02d9u, 14);
    STEP(0xE4, b, c, d, a, w[12], 0x8d2a4c8au, 20);
    STEP(0x96, a, b, c, d, w[5], 0xfffa3942u, 4);
    STEP(0x96, d, a, b, c, w[8], 0x8771f681u, 11);
    STEP(0x96, c, d, a, b, w[11], 0x6d9d6122u, 16);
    STEP(0x96, b, c, d, a, w[14], 0xfde5380cu, 23);
    STEP(0x96, a, b, c, d, w[1], 0xa4beea44u, 4);
    STEP(0x96, d, a, b, c, w[4], 0x4bdecfa9u, 11);
    STEP(0x96, c, d, a, b, w[7], 0xf6bb4b60u, 16);
    STEP(0x96, b, c, d, a, w[10], 0xbebfbc70u, 23);
    STEP(0x96, a, b, c, d, w[13], 0x289b7ec6u, 4);
    STEP(0x96, d, a, b, c, w[0], 0xeaa127fau, 11);
    STEP(0x96, c, d, a, b, w[3], 0xd4ef3085u, 16);
    STEP(0x96, b, c, d, a, w[6], 0x04881d05u, 23);
    STEP(0x96, a, b, c, d, w[9], 0xd9d4d039u, 4);
    STEP(0x96, d, a, b, c, w[12], 0xe6db99e5u, 11);
    STEP(0x96, c, d, a, b, w[15], 0x1fa27cf8u, 16);
    STEP(0x96, b, c, d, a, w[2], 0xc4ac5665u, 23);
    STEP(0x39, a, b, c, d, w[0], 0xf4292244u, 6);
    STEP(0x39, d, a, b, c, w[7], 0x432aff97u, 10);
    STEP(0x39, c, d, a, b, w[14], 0xab9423a7u, 15);
    STEP(0x39, b, c, d, a, w[5], 0xfc93a039u, 21);
    STEP(0x39, a, b, c, d, w[12], 0x655b59c3u, 6);
    STEP(0x39, d, a, b, c, w[3], 0x8f0ccc92u, 10);
    STEP(0x39, c, d, a, b, w[10], 0xffeff47du, 15);
    STEP(0x39, b, c, d, a, w[1], 0x85845dd1u, 21);
    STEP(0x39, a, b, c, d, w[8], 0x6fa87e4fu, 6);
    STEP(0x39, d, a, b, c, w[15], 0xfe2ce6e0u, 10);
    STEP(0x39, c, d, a, b, w[6], 0xa3014314u, 15);
    STEP(0x39, b, c, d, a, w[13], 0x4e0811a1u, 21);
    STEP(0x39, a, b, c, d, w[4], 0xf7537e82u, 6);
    STEP(0x39, d, a, b, c, w[11], 0xbd3af235u, 10);
    STEP(0x39, c, d, a, b, w[2], 0x2ad7d2bbu, 15);
    STEP(0x39, b, c, d, a, w[9], 0xeb86d391u, 21);
    a = _mm512_add_epi32(a, a0);
    b = _mm512_add_epi32(b, b0);
    c = _mm512_add_epi32(c, c0);
    d = _mm512_add_epi32(d, d0);
  }
  _mm512_storeu_si512(st[0], a);
  _mm512_storeu_si512(st[1], b);
  _mm512_storeu_si512(st[2], c);
  _mm512_storeu_si512(st[3], d);
}
#undef STEP

// The same 64 steps over 8 lanes in AVX2 registers, the logic functions and
// the rotate spelt out. The steps are a dependency chain through b, the last
// step's result, so each function takes b as late as it can (F = d ^ (b &
// (c ^ d)), G = (b & d) | (c & ~d), H = b ^ (c ^ d), I = c ^ (b | ~d)) and a
// + w + k is summed before f is ready.
#define F8(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define G8(b, c, d) _mm256_or_si256(_mm256_and_si256(b, d), _mm256_andnot_si256(d, c))
#define H8(b, c, d) _mm256_xor_si256(b, _mm256_xor_si256(c, d))
#define I8(b, c, d) _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones)))
#define STEP(f, a, b, c, d, w, k, s)                                                                      \
  a = _mm256_add_epi32(_mm256_add_epi32(a, _mm256_add_epi32(w, _mm256_set1_epi32(static_cast<int>(k)))), \
                       f(b, c, d));                                                                      \
  a = _mm256_add_epi32(_mm256_or_si256(_mm256_slli_epi32(a, s), _mm256_srli_epi32(a, 32 - (s))), b);

// Words 0..7 (or 8..15) of 8 lanes' blocks, one word of every lane per register
// (an 8 x 8 transpose of 32-bit words).
__attribute__((target("avx2"))) inline void transpose8(__m256i r[8], __m256i* w) {
  __m256i t[8], u[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_epi32(r[2 * k], r[2 * k + 1]);      // words 0 1 | 4 5 of two rows
    t[2 * k + 1] = _mm256_unpackhi_epi32(r[2 * k], r[2 * k + 1]);  // words 2 3 | 6 7
  }
  for (int k = 0; k < 2; ++k) {  // rows 4k..4k+3: u[4k + m] holds word m | word m + 4
    u[4 * k] = _mm256_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    w[m] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x20);
    w[m + 4] = _mm256_permute2x128_si256(u[m], u[4 + m], 0x31);
  }
}

// `nblocks` blocks of each of 8 lanes' streams; st[i][lane] is word i of a lane's state.
__attribute__((target("avx2"))) void md5_x8(uint32_t st[4][kLanes], const uint8_t* const p[kLanes],
                                            size_t nblocks) {
  const __m256i ones = _mm256_set1_epi32(-1);
  __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[0]));
  __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[1]));
  __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[2]));
  __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[3]));
  for (size_t blk = 0; blk < nblocks; ++blk) {
    __m256i w[16], r[8];
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 8; ++l)
        r[l] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[l] + blk * 64 + half * 32));
      transpose8(r, w + half * 8);
    }
    __m256i a0 = a, b0 = b, c0 = c, d0 = d;
    STEP(F8, a, b, c, d, w[0], 0xd76aa478u, 7);
    STEP(F8, d, a, b, c, w[1], 0xe8c7b756u, 12);
    STEP(F8, c, d, a, b, w[2], 0x242070dbu, 17);
    STEP(F8, b, c, d, a, w[3], 0xc1bdceeeu, 22);
    STEP(F8, a, b, c, d, w[4], 0xf57c0fafu, 7);
    STEP(F8, d, a, b, c, w[5], 0x4787c62au, 12);
    STEP(F8, c, d, a, b, w[6], 0xa8304613u, 17);
    STEP(F8, b, c, d, a, w[7], 0xfd469501u, 22);
    STEP(F8, a, b, c, d, w[8], 0x698098d8u, 7);
    STEP(F8, d, a, b, c, w[9], 0x8b44f7afu, 12);
    STEP(F8, c, d, a, b, w[10], 0xffff5bb1u, 17);
    STEP(F8, b, c, d, a, w[11], 0x895cd7beu, 22);
    STEP(F8, a, b, c, d, w[12], 0x6b901122u, 7);
    STEP(F8, d, a, b, c, w[13], 0xfd987193u, 12);
    STEP(F8, c, d, a, b, w[14], 0xa679438eu, 17);
    STEP(F8, b, c, d, a, w[15], 0x49b40821u, 22);
    STEP(G8, a, b, c, d, w[1], 0xf61e2562u, 5);
    STEP(G8, d, a, b, c, w[6], 0xc040b340u, 9);
    STEP(G8, c, d, a, b, w[11], 0x265e5a51u, 14);
    STEP(G8, b, c, d, a, w[0], 0xe9b6c7aau, 20);
    STEP(G8, a, b, c, d, w[5], 0xd62f105du, 5);
    STEP(G8, d, a, b, c, w[10], 0x02441453u, 9);
    STEP(G8, c, d, a, b, w[15], 0xd8a1e681u, 14);
    STEP(G8, b, c, d, a, w[4], 0xe7d3fbc8u, 20);
    STEP(G8, a, b, c, d, w[9], 0x21e1cde6u, 5);
    STEP(G8, d, a, b, c, w[14], 0xc33707d6u, 9);
    STEP(G8, c, d, a, b, w[3], 0xf4d50d87u, 14);
    STEP(G8, b, c, d, a, w[8], 0x455a14edu, 20);
    STEP(G8, a, b, c, d, w[13], 0xa9e3e905u, 5);
    STEP(G8, d, a, b, c, w[2], 0xfcefa3f8u, 9);
    STEP(G8, c, d, a, b, w[7], 0x676f02d9u, 14);
    STEP(G8, b, c, d, a, w[12], 0x8d2a4c8au, 20);
    STEP(H8, a, b, c, d, w[5], 0xfffa3942u, 4);
    STEP(H8, d, a, b, c, w[8], 0x8771f681u, 11);
    STEP(H8, c, d, a, b, w[11], 0x6d9d6122u, 16);
    STEP(H8, b, c, d, a, w[14], 0xfde5380cu, 23);
    STEP(H8, a, b, c, d, w[1], 0xa4beea44u, 4);
    STEP(H8, d, a, b, c, w[4], 0x4bdecfa9u, 11);
    STEP(H8, c, d, a, b, w[7], 0xf6bb4b60u, 16);
    STEP(H8, b, c, d, a, w[10], 0xbebfbc70u, 23);
    STEP(H8, a, b, c, d, w[13], 0x289b7ec6u, 4);
    STEP(H8, d, a, b, c, w[0], 0xeaa127fau, 11);
    STEP(H8, c, d, a, b, w[3], 0xd4ef3085u, 16);
    STEP(H8, b, c, d, a, w[6], 0x04881d05u, 23);
    STEP(H8, a, b, c, d, w[9], 0xd9d4d039u, 4);
    STEP(H8, d, a, b, c, w[12], 0xe6db99e5u, 11);
    STEP(H8, c, d, a, b, w[15], 0x1fa27cf8u, 16);
    STEP(H8, b, c, d, a, w[2], 0xc4ac5665u, 23);
    STEP(I8, a, b, c, d, w[0], 0xf4292244u, 6);
    STEP(I8, d, a, b, c, w[7], 0x432aff97u, 10);
    STEP(I8, c, d, a, b, w[14], 0xab9423a7u, 15);
    STEP(I8, b, c, d, a, w[5], 0xfc93a039u, 21);
    STEP(I8, a, b, c, d, w[12], 0x655b59c3u, 6);
    STEP(I8, d, a, b, c, w[3], 0x8f0ccc92u, 10);
    STEP(I8, c, d, a, b, w[10], 0xffeff47du, 15);
    STEP(I8, b, c, d, a, w[1], 0x85845dd1u, 21);
    STEP(I8, a, b, c, d, w[8], 0x6fa87e4fu, 6);
    STEP(I8, d, a, b, c, w[15], 0xfe2ce6e0u, 10);
    STEP(I8, c, d, a, b, w[6], 0xa3014314u, 15);
    STEP(I8, b, c, d, a, w[13], 0x4e0811a1u, 21);
    STEP(I8, a, b, c, d, w[4], 0xf7537e82u, 6);
    STEP(I8, d, a, b, c, w[11], 0xbd3af235u, 10);
    STEP(I8, c, d, a, b, w[2], 0x2ad7d2bbu, 15);
    STEP(I8, b, c, d, a, w[9], 0xeb86d391u, 21);
    a = _mm256_add_epi32(a, a0);
    b = _mm256_add_epi32(b, b0);
    c = _mm256_add_epi32(c, c0);
    d = _mm256_add_epi32(d, d0);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[0]), a);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[1]), b);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[2]), c);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[3]), d);
}
#undef STEP
#undef F8
#undef G8
#undef H8
#undef I8

// How many lanes the kernel fills: 16 with AVX-512, 8 with AVX2, 0 without
// either (every stream alone). KISEKI_MD5_LANES=off or avx2 picks less, for
// comparisons on one binary.
int cpu_lane_width() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? 16 : __builtin_cpu_supports("avx2") ? 8 : 0;
}

int lane_width() {
  static const int width = [] {
    const char* env = std::getenv("KISEKI_MD5_LANES");
    int cpu = cpu_lane_width();
    if (env && std::strcmp(env, "off") == 0) return 0;
    if (env && std::strcmp(env, "avx2") == 0) return std::min(cpu, 8);
    return cpu;
  }();
  return width;
}

// The kernel of `width` lanes over up to that many streams' states in place:
// lane l hashes `nblocks` (at most kRoundBlocks) blocks of p[l] into h[l]; a
// null h[l] is an idle lane.
void hash_lanes(int width, uint32_t* const h[kLanes], const uint8_t* const p[kLanes], size_t nblocks) {
  alignas(64) uint32_t st[4][kLanes] = {};
  const uint8_t* lp[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lp[l] = l < width && h[l] ? p[l] : kIdle;
    if (l < width && h[l])
      for (int i = 0; i < 4; ++i) st[i][l] = h[l][i];
  }
  if (width == 16) md5_x16(st, lp, nblocks);
  else md5_x8(st, lp, nblocks);
  for (int l = 0; l < width; ++l)
    if (h[l])
      for (int i = 0; i < 4; ++i) h[l][i] = st[i][l];
}

}  // namespace

// A stream's blocks, handed in: its state and what is left of its run. Its
// owner sleeps on `state` (one futex per job: a wake-up wakes one thread).
struct Md5Job {
  enum : int { kQueued = 0, kDone = 1, kWake = 2 };
  uint32_t* h;
  const uint8_t* p;
  size_t blocks;
  std::atomic<int> state{kQueued};
  bool handed = false;   // under the lock: the combiner role was handed to this job's owner
  bool waiting = false;  // under the lock: the owner waits for it (a deferred one's may not yet)
  uint32_t own_h[4] = {};  // a deferred job's state (`h` points here)
};

namespace {
using Job = Md5Job;

// Flat combining: a thread with blocks to hash queues them and, if fewer
// threads are hashing than there are cores, hashes itself: rounds of up to 16
// (AVX2: 8) queued jobs (its own among them) until its own is done, refilling
// lanes between rounds with jobs queued meanwhile. What it leaves unfinished
// goes back to the front of the queue, and the first waiting owner of a queued
// job is woken to hash in its place. Other threads sleep until their job is
// done. A deferred job (md5_blocks_defer) waits in the queue with no owner
// waiting until someone hashes it or its owner settles it.
class Combiner {
 public:
  explicit Combiner(int width)
      : width_(width),
        max_(std::max(1u, std::thread::hardware_concurrency())),
        rounds_(MetricsRegistry::global().counter("kiseki_md5_rounds_total",
                                                  "Rounds of MD5 blocks hashed for S3 ETags (crypto/md5.h)")),
        streams_(MetricsRegistry::global().counter(
            "kiseki_md5_round_streams_total",
            "Streams those rounds hashed together (their ratio to the rounds: how many PUTs shared a round)")) {}

  // Queues a job without waiting: whoever hashes next takes it into a lane,
  // its owner at the latest (wait()).
  void queue(Job& job) {
    std::lock_guard lk(mu_);
    queue_.push_back(&job);
  }

  void run(Job& mine) {
    std::unique_lock lk(mu_);
    queue_.push_back(&mine);
    wait_locked(lk, mine);
  }

  // Waits for a queued job, hashing meanwhile if fewer threads are hashing
  // than there are cores.
  void wait(Job& mine) {
    std::unique_lock lk(mu_);
    wait_locked(lk, mine);
  }

  Md5LaneStats stats() const { return {rounds_->value(), streams_->value()}; }

 private:
  void wait_locked(std::unique_lock<std::mutex>& lk, Job& mine) {
    if (mine.state.load(std::memory_order_acquire) == Job::kDone) return;
    mine.waiting = true;
    bool combine_now = combining_ < max_;
    if (combine_now) ++combining_;
    for (;;) {
      if (combine_now) combine(lk, mine);
      combine_now = false;
      if (mine.state.load(std::memory_order_acquire) == Job::kDone) return;
      lk.unlock();
      mine.state.wait(Job::kQueued, std::memory_order_acquire);
      lk.lock();
      int woken = Job::kWake;
      mine.state.compare_exchange_strong(woken, Job::kQueued, std::memory_order_acq_rel);
      // A role handed over is taken even if the job is done by now: combine()
      // then hands it on at once (the hander counted it).
      if (mine.handed) {
        mine.handed = false;
        combine_now = true;
      }
    }
  }

  // Called with the lock held and this thread counted in combining_; returns
  // with the lock held and the role given up (or handed on).
  void combine(std::unique_lock<std::mutex>& lk, Job& mine) {
    Job* lane[kLanes] = {};
    int active = 0;
    Job* finished[kLanes];
    for (;;) {
      for (int l = 0; l < width_ && !queue_.empty(); ++l)
        if (!lane[l]) {
          lane[l] = queue_.front();
          queue_.pop_front();
          ++active;
        }
      if (mine.state.load(std::memory_order_relaxed) == Job::kDone || active == 0) break;
      size_t n = kRoundBlocks;
      for (Job* j : lane)
        if (j) n = std::min(n, j->blocks);
      rounds_->inc();
      streams_->inc(static_cast<uint64_t>(active));
      lk.unlock();
      if (active == 1) {
        for (Job* j : lane)
          if (j) md5_blocks_alone(j->h, j->p, n);
      } else {
        uint32_t* h[kLanes];
        const uint8_t* p[kLanes];
        for (int l = 0; l < kLanes; ++l) {
          h[l] = lane[l] ? lane[l]->h : nullptr;
          p[l] = lane[l] ? lane[l]->p : nullptr;
        }
        hash_lanes(width_, h, p, n);
      }
      int nfinished = 0;
      for (Job*& j : lane) {
        if (!j) continue;
        j->p += n * 64;
        j->blocks -= n;
        if (j->blocks == 0) {
          finished[nfinished++] = j;
          j = nullptr;
          --active;
        }
      }
      lk.lock();
      // Under the lock: an owner returns only while holding it, so a job stays
      // alive until its notify_one() is done, even if its owner saw kDone first.
      for (int k = 0; k < nfinished; ++k) {
        finished[k]->state.store(Job::kDone, std::memory_order_release);
        if (finished[k] != &mine) finished[k]->state.notify_one();
      }
    }
    for (int l = kLanes - 1; l >= 0; --l)
      if (lane[l]) queue_.push_front(lane[l]);
    // The first owner waiting takes the role over (it stays counted). Jobs
    // whose owners do not wait yet stay queued for whoever hashes next.
    auto next = std::find_if(queue_.begin(), queue_.end(), [](const Job* j) { return j->waiting; });
    if (next != queue_.end()) {
      (*next)->handed = true;
      int queued = Job::kQueued;
      if ((*next)->state.compare_exchange_strong(queued, Job::kWake, std::memory_order_acq_rel))
        (*next)->state.notify_one();
    } else {
      --combining_;
    }
  }

  const int width_;
  const unsigned max_;
  std::mutex mu_;
  std::deque<Job*> queue_;
  unsigned combining_ = 0;
  Counter* rounds_;
  Counter* streams_;
};

Combiner& combiner() {
  static Combiner c(lane_width());
  return c;
}

}  // namespace

int md5_lane_width() { return lane_width(); }

Md5LaneStats md5_lane_stats() { return combiner().stats(); }

void md5_blocks_lanes(uint32_t (*h)[4], const uint8_t* const* p, int n, size_t nblocks, int width) {
  if (width == 0) width = lane_width();
  width = std::min(width, cpu_lane_width());
  if (width < 8) {
    for (int l = 0; l < n; ++l) md5_blocks_alone(h[l], p[l], nblocks);
    return;
  }
  uint32_t* lh[kLanes];
  const uint8_t* lp[kLanes];
  for (int first = 0; first < n; first += width) {
    for (size_t done = 0; done < nblocks;) {
      size_t step = std::min(kRoundBlocks, nblocks - done);
      for (int l = 0; l < kLanes; ++l) {
        bool used = l < width && first + l < n;
        lh[l] = used ? h[first + l] : nullptr;
        lp[l] = used ? p[first + l] + done * 64 : nullptr;
      }
      hash_lanes(width, lh, lp, step);
      done += step;
    }
  }
}

void md5_blocks_shared(uint32_t h[4], const uint8_t* p, size_t nblocks) {
  if (nblocks == 0) return;
  if (lane_width() == 0) return md5_blocks_alone(h, p, nblocks);
  Job j{h, p, nblocks};
  combiner().run(j);
}

Md5Job* md5_blocks_defer(const uint32_t h[4], const uint8_t* p, size_t nblocks) {
  auto* j = new Md5Job{nullptr, p, nblocks};
  std::copy(h, h + 4, j->own_h);
  j->h = j->own_h;
  if (nblocks == 0 || lane_width() == 0) {
    md5_blocks_alone(j->h, p, nblocks);
    j->state.store(Job::kDone, std::memory_order_relaxed);
  } else {
    combiner().queue(*j);
  }
  return j;
}

void md5_blocks_settle(Md5Job* job, uint32_t h[4]) {
  combiner().wait(*job);
  std::copy(job->own_h, job->own_h + 4, h);
  delete job;
}

}  // namespace kiseki::crypto
