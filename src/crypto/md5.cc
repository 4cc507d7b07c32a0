#include "crypto/md5.h"

#include <openssl/md5.h>

#include <cstring>
#include <utility>

namespace kiseki::crypto {

// OpenSSL's assembly block function, through its (deprecated, still exported)
// low-level context: the chaining state goes in and out; whole blocks only, so
// its buffering and length count are unused.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void md5_blocks_alone(uint32_t h[4], const uint8_t* p, size_t nblocks) {
  if (nblocks == 0) return;
  MD5_CTX ctx;
  MD5_Init(&ctx);
  ctx.A = h[0];
  ctx.B = h[1];
  ctx.C = h[2];
  ctx.D = h[3];
  MD5_Update(&ctx, p, nblocks * 64);
  h[0] = ctx.A;
  h[1] = ctx.B;
  h[2] = ctx.C;
  h[3] = ctx.D;
}
#pragma GCC diagnostic pop

Md5::Md5(Md5&& o) noexcept { *this = std::move(o); }

Md5& Md5::operator=(Md5&& o) noexcept {
  if (this == &o) return *this;
  settle();
  std::memcpy(h_, o.h_, sizeof(h_));
  std::memcpy(buf_, o.buf_, sizeof(buf_));
  used_ = o.used_;
  total_ = o.total_;
  deferred_ = std::exchange(o.deferred_, nullptr);
  return *this;
}

Md5::~Md5() { settle(); }

void Md5::settle() {
  if (deferred_) md5_blocks_settle(std::exchange(deferred_, nullptr), h_);
}

void Md5::update_deferred(ByteSpan b) {
  // The partial block before the run, and the one after it, are hashed or
  // kept now; only the whole blocks between wait.
  size_t head = used_ > 0 ? std::min(b.size(), 64 - used_) : 0;
  update(b.first(head));
  b = b.subspan(head);
  size_t blocks = b.size() / 64;
  if (blocks < 16) return update(b);
  deferred_ = md5_blocks_defer(h_, b.data(), blocks);
  total_ += blocks * 64;
  size_t rest = b.size() - blocks * 64;
  std::memcpy(buf_, b.data() + blocks * 64, rest);
  used_ = rest;
  total_ += rest;
}

void Md5::update(ByteSpan b) {
  settle();
  const uint8_t* p = b.data();
  size_t n = b.size();
  total_ += n;
  if (used_ > 0) {
    size_t take = std::min(n, 64 - used_);
    std::memcpy(buf_ + used_, p, take);
    used_ += take;
    p += take;
    n -= take;
    if (used_ < 64) return;
    md5_blocks_alone(h_, buf_, 1);
    used_ = 0;
  }
  // Short runs are not worth a hand-over to the lanes.
  if (size_t blocks = n / 64; blocks >= 16) {
    md5_blocks_shared(h_, p, blocks);
  } else {
    md5_blocks_alone(h_, p, blocks);
  }
  p += (n / 64) * 64;
  n %= 64;
  std::memcpy(buf_, p, n);
  used_ = n;
}

std::array<uint8_t, 16> Md5::finish() {
  settle();
  // RFC 1321 padding: 0x80, zeros to 56 mod 64, the length in bits (little-endian).
  uint64_t bits = total_ * 8;
  buf_[used_++] = 0x80;
  if (used_ > 56) {
    std::memset(buf_ + used_, 0, 64 - used_);
    md5_blocks_alone(h_, buf_, 1);
    used_ = 0;
  }
  std::memset(buf_ + used_, 0, 56 - used_);
  for (int k = 0; k < 8; ++k) buf_[56 + k] = static_cast<uint8_t>(bits >> (8 * k));
  md5_blocks_alone(h_, buf_, 1);
  std::array<uint8_t, 16> out;
  for (int w = 0; w < 4; ++w)
    for (int k = 0; k < 4; ++k) out[4 * w + k] = static_cast<uint8_t>(h_[w] >> (8 * k));
  return out;
}

}  // namespace kiseki::crypto
