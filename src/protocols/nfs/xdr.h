// XDR (RFC 4506): big-endian 4-byte units, opaque data padded to a multiple of
// four. The decoder checks every length against the bytes left and a caller's
// maximum, so malformed input is an error, never an overread or a huge allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace kiseki::nfs {

class XdrEncoder {
 public:
  explicit XdrEncoder(std::string* out) : out_(out) {}
  XdrEncoder& u32(uint32_t v) {  // inline: a READDIRPLUS entry is some 40 of these
    char b[4];
    put_be32(reinterpret_cast<uint8_t*>(b), v);
    out_->append(b, 4);
    return *this;
  }
  XdrEncoder& i32(int32_t v) { return u32(static_cast<uint32_t>(v)); }
  XdrEncoder& u64(uint64_t v) { return u32(static_cast<uint32_t>(v >> 32)).u32(static_cast<uint32_t>(v)); }
  XdrEncoder& boolean(bool v) { return u32(v ? 1 : 0); }
  XdrEncoder& opaque_fixed(std::string_view data);  // fixed length: no length word
  XdrEncoder& opaque(std::string_view data);        // variable length: length word first
  XdrEncoder& string(std::string_view s) { return opaque(s); }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

class XdrDecoder {
 public:
  explicit XdrDecoder(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  uint32_t u32();
  int32_t i32() { return static_cast<int32_t>(u32()); }
  uint64_t u64() {
    uint64_t hi = u32();
    return hi << 32 | u32();
  }
  bool boolean();  // only 0 or 1
  std::string_view opaque_fixed(size_t n);
  std::string_view opaque(size_t max);
  std::string_view string(size_t max) { return opaque(max); }
  // The bytes not read yet (a procedure's arguments after the RPC header).
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace kiseki::nfs
