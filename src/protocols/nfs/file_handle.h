// NFS file handles: opaque to clients, stable across restarts. A handle carries
// the tenant, namespace, inode and the inode's generation (as varints: most
// handles are about 17 bytes; file_handle.cc), and a MAC under a key
// kept in the replicated state, so a forged handle is refused (BADHANDLE) and one
// whose inode was deleted — even if the number came back — is STALE.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/status.h"
#include "crypto/primitives.h"
#include "gateway/gateway.h"

namespace kiseki::nfs {

struct FileHandle {
  TenantId tenant = 0;
  NamespaceId ns = 0;
  InodeId ino = 0;
  uint64_t generation = 0;
};

class HandleCodec {
 public:
  // Loads the MAC key (a cluster secret in the replicated state), creating it on
  // first start.
  static Result<HandleCodec> open(gateway::Gateway* gw);
  explicit HandleCodec(const std::array<uint8_t, 32>& key)
      : mac_(std::make_shared<const crypto::HmacSha256>(ByteSpan(key.data(), key.size()))) {}

  std::string encode(const FileHandle& h) const;
  // nullopt if the bytes are not a handle this server made.
  std::optional<FileHandle> decode(std::string_view bytes) const;

  // The longest handle encode makes (four 10-byte varints): within NFSv3's 64.
  static constexpr size_t kMaxSize = 1 + 4 * 10 + 8;
  // The shortest (every field one byte).
  static constexpr size_t kMinSize = 1 + 4 + 8;

 private:
  std::shared_ptr<const crypto::HmacSha256> mac_;
};

}  // namespace kiseki::nfs
