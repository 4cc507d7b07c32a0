#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

static size_t padding(size_t n) { return (4 - (n & 3)) & 3; }

XdrEncoder& XdrEncoder::opaque_fixed(std::string_view data) {
  out_->append(data);
  out_->append(padding(data.size()), '\0');
  return *this;
}

XdrEncoder& XdrEncoder::opaque(std::string_view data) {
  u32(static_cast<uint32_t>(data.size()));
  return opaque_fixed(data);
}

uint32_t XdrDecoder::u32() {
  if (!ok_ || remaining() < 4) {
    fail();
    return 0;
  }
  uint32_t v = get_be32(reinterpret_cast<const uint8_t*>(in_.data() + pos_));
  pos_ += 4;
  return v;
}

bool XdrDecoder::boolean() {
  uint32_t v = u32();
  if (v > 1) fail();
  return v == 1;
}

std::string_view XdrDecoder::opaque_fixed(size_t n) {
  size_t padded = n + padding(n);
  if (!ok_ || padded < n || remaining() < padded) {
    fail();
    return {};
  }
  std::string_view s = in_.substr(pos_, n);
  pos_ += padded;
  return s;
}

std::string_view XdrDecoder::opaque(size_t max) {
  uint32_t n = u32();
  if (!ok_ || n > max) {
    fail();
    return {};
  }
  return opaque_fixed(n);
}

}  // namespace kiseki::nfs
