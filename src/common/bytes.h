// Byte buffers and big-endian codecs shared by every on-disk and wire format.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiseki {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string_view(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) { p[i] = static_cast<uint8_t>(v); v >>= 8; }
}
inline void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) { p[i] = static_cast<uint8_t>(v); v >>= 8; }
}
inline uint64_t get_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t get_be32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}

// Appends fixed-width big-endian integers and length-prefixed strings to a string
// (RocksDB keys and values are strings). Big-endian keeps range scans ordered.
class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}
  Encoder& u8(uint8_t v) { out_->push_back(static_cast<char>(v)); return *this; }
  Encoder& u32(uint32_t v) { char b[4]; put_be32(reinterpret_cast<uint8_t*>(b), v); out_->append(b, 4); return *this; }
  Encoder& u64(uint64_t v) { char b[8]; put_be64(reinterpret_cast<uint8_t*>(b), v); out_->append(b, 8); return *this; }
  Encoder& i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
  Encoder& raw(std::string_view s) { out_->append(s); return *this; }
  Encoder& raw(ByteSpan s) { return raw(as_string_view(s)); }
  Encoder& str(std::string_view s) { u32(static_cast<uint32_t>(s.size())); return raw(s); }

 private:
  std::string* out_;
};

// Reads what Encoder wrote. Every read checks bounds; ok() is false after any overrun,
// so a truncated or corrupt record decodes to an error, never to garbage.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  uint8_t u8() { return need(1) ? static_cast<uint8_t>(in_[pos_++]) : 0; }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = get_be32(reinterpret_cast<const uint8_t*>(in_.data() + pos_));
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = get_be64(reinterpret_cast<const uint8_t*>(in_.data() + pos_));
    pos_ += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string_view raw(size_t n) {
    if (!need(n)) return {};
    auto s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view str() { return raw(u32()); }

 private:
  bool need(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) { ok_ = false; return false; }
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::string to_hex(ByteSpan b);
bool from_hex(std::string_view hex, Bytes* out);

// Overwrites memory in a way the compiler cannot elide (for key material).
void secure_zero(void* p, size_t n);

}  // namespace kiseki
