#include "protocols/nfs/file_handle.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/bytes.h"
#include "crypto/primitives.h"

namespace kiseki::nfs {

namespace {
constexpr std::string_view kKeyName = "nfs_handle_key";
constexpr size_t kMacBytes = 8;  // 64 bits of HMAC-SHA256: a forgery needs ~2^63 calls

// Version 1 (written before 2026-12): version, 3 reserved bytes, the four
// fields as 64-bit big-endian numbers, the MAC: 44 bytes. Still decoded, so
// handles that clients hold across an upgrade keep working.
constexpr uint8_t kVersion1 = 1;
constexpr size_t kV1Body = 36;
constexpr size_t kV1Size = kV1Body + kMacBytes;

// Version 2: the version byte, the four fields as LEB128 varints (all four are
// counters, so mostly 1 to 3 bytes each), the MAC over what precedes it: about
// 17 bytes. READDIRPLUS carries one per entry; the smaller the handle, the more
// entries fit in a client's reply size.
constexpr uint8_t kVersion2 = 2;

void put_varint(uint64_t v, uint8_t* p, size_t* n) {
  while (v >= 0x80) {
    p[(*n)++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  p[(*n)++] = static_cast<uint8_t>(v);
}

// The canonical (shortest) encoding only: one handle, one byte string.
bool get_varint(const uint8_t* p, size_t end, size_t* pos, uint64_t* v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64 && *pos < end; shift += 7) {
    uint8_t b = p[(*pos)++];
    if (shift == 63 && b > 1) return false;
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return b != 0 || shift == 0;
  }
  return false;
}

}  // namespace

Result<HandleCodec> HandleCodec::open(gateway::Gateway* gw) {
  std::array<uint8_t, 32> key{};
  KISEKI_ASSIGN_OR_RETURN(std::string v, gw->cluster_secret(kKeyName, key.size()));
  if (v.size() != key.size()) return corruption("NFS handle key has the wrong size");
  std::memcpy(key.data(), v.data(), key.size());
  secure_zero(v.data(), v.size());
  return HandleCodec(key);
}

std::string HandleCodec::encode(const FileHandle& h) const {
  uint8_t p[kMaxSize];
  size_t n = 0;
  p[n++] = kVersion2;
  for (uint64_t f : {h.tenant, h.ns, h.ino, h.generation}) put_varint(f, p, &n);
  auto mac = mac_->mac(ByteSpan(p, n));
  std::memcpy(p + n, mac.data(), kMacBytes);
  return std::string(reinterpret_cast<const char*>(p), n + kMacBytes);
}

std::optional<FileHandle> HandleCodec::decode(std::string_view bytes) const {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t body = 0;
  FileHandle h;
  if (bytes.size() == kV1Size && p[0] == kVersion1) {
    if (p[1] != 0 || p[2] != 0 || p[3] != 0) return std::nullopt;
    body = kV1Body;
    h = FileHandle{get_be64(p + 4), get_be64(p + 12), get_be64(p + 20), get_be64(p + 28)};
  } else if (bytes.size() > kMacBytes && bytes.size() <= kMaxSize && p[0] == kVersion2) {
    size_t end = bytes.size() - kMacBytes, pos = 1;
    for (uint64_t* f : {&h.tenant, &h.ns, &h.ino, &h.generation})
      if (!get_varint(p, end, &pos, f)) return std::nullopt;
    if (pos != end) return std::nullopt;
    body = end;
  } else {
    return std::nullopt;
  }
  auto mac = mac_->mac(ByteSpan(p, body));
  if (CRYPTO_memcmp(mac.data(), p + body, kMacBytes) != 0) return std::nullopt;
  return h;
}

}  // namespace kiseki::nfs
