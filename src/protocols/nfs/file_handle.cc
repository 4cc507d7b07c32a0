#include "protocols/nfs/file_handle.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/bytes.h"
#include "crypto/primitives.h"

namespace kiseki::nfs {

namespace {
constexpr std::string_view kKeyName = "nfs_handle_key";
constexpr uint8_t kVersion = 1;
constexpr size_t kBody = 36;  // version, 3 reserved bytes, four 64-bit fields
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
  std::string out(kSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = kVersion;
  put_be64(p + 4, h.tenant);
  put_be64(p + 12, h.ns);
  put_be64(p + 20, h.ino);
  put_be64(p + 28, h.generation);
  auto mac = mac_->mac(ByteSpan(p, kBody));
  std::memcpy(p + kBody, mac.data(), kSize - kBody);
  return out;
}

std::optional<FileHandle> HandleCodec::decode(std::string_view bytes) const {
  if (bytes.size() != kSize) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (p[0] != kVersion || p[1] != 0 || p[2] != 0 || p[3] != 0) return std::nullopt;
  auto mac = mac_->mac(ByteSpan(p, kBody));
  if (CRYPTO_memcmp(mac.data(), p + kBody, kSize - kBody) != 0) return std::nullopt;
  return FileHandle{get_be64(p + 4), get_be64(p + 12), get_be64(p + 20), get_be64(p + 28)};
}

}  // namespace kiseki::nfs
