#include "crypto/key_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/bytes.h"
#include "common/file_util.h"
#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"

namespace kiseki::crypto {

// master file: "KSKM" · u32 count · count × (u32 epoch · 32-byte key)
static constexpr std::string_view kMasterMagic = "KSKM";

SecretKey derive_dedup_key(const SecretKey& kek) {
  SecretKey k;
  hkdf_sha256(kek.span(), {}, "kiseki-dedup-v1", {k.data(), k.size()});
  return k;
}

Result<std::unique_ptr<FileKeyManager>> FileKeyManager::open(const std::string& dir) {
  KISEKI_TRY(make_dirs(dir));
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<FileKeyManager> km(new FileKeyManager(dir));
  KISEKI_TRY(km->load_master());
  return km;
}

Status FileKeyManager::load_master() {
  std::string path = dir_ + "/master";
  if (!file_exists(path)) {
    std::lock_guard lock(mu_);
    masters_.emplace(1, SecretKey::random());
    return write_master_locked();
  }
  KISEKI_ASSIGN_OR_RETURN(std::string data, read_file(path));
  Decoder d(data);
  if (d.raw(4) != kMasterMagic) return corruption("key file " + path + " has a bad magic");
  uint32_t n = d.u32();
  std::lock_guard lock(mu_);
  for (uint32_t i = 0; i < n && d.ok(); ++i) {
    uint32_t epoch = d.u32();
    auto raw = d.raw(kKeySize);
    if (!d.ok()) break;
    masters_.emplace(epoch, SecretKey(std::span<const uint8_t, kKeySize>(
                                reinterpret_cast<const uint8_t*>(raw.data()), kKeySize)));
  }
  secure_zero(data.data(), data.size());
  if (!d.ok() || masters_.empty()) return corruption("key file " + path + " is truncated");
  return Status::ok();
}

Status FileKeyManager::write_master_locked() {
  std::string data;
  Encoder e(&data);
  e.raw(kMasterMagic).u32(static_cast<uint32_t>(masters_.size()));
  for (const auto& [epoch, key] : masters_) e.u32(epoch).raw(key.span());
  Status st = write_file_atomic(dir_ + "/master", data, 0600);
  secure_zero(data.data(), data.size());
  return st;
}

uint32_t FileKeyManager::current_epoch() const {
  std::lock_guard lock(mu_);
  return masters_.rbegin()->first;
}

Result<SecretKey> FileKeyManager::master_key(uint32_t epoch) const {
  std::lock_guard lock(mu_);
  auto it = masters_.find(epoch);
  if (it == masters_.end()) return not_found("no master key for epoch " + std::to_string(epoch));
  return it->second;
}

Status FileKeyManager::rotate() {
  std::lock_guard lock(mu_);
  uint32_t next = masters_.rbegin()->first + 1;
  masters_.emplace(next, SecretKey::random());
  return write_master_locked();
}

std::string FileKeyManager::tenant_path(TenantId t) const {
  return dir_ + "/tenant-" + std::to_string(t);
}

// tenant file: u32 epoch · tenant_seal(master[epoch], aad = "kiseki-kek" · id, KEK)
Status FileKeyManager::create_tenant_key(TenantId tenant) {
  std::lock_guard lock(mu_);
  if (file_exists(tenant_path(tenant)) || file_exists(tenant_path(tenant) + ".shredded"))
    return make_error(ErrorCode::kExists, "tenant key exists");
  SecretKey kek = SecretKey::random();
  uint32_t epoch = masters_.rbegin()->first;
  std::string aad = "kiseki-kek" + std::to_string(tenant);
  std::string sealed;
  KISEKI_TRY(tenant_seal(masters_.at(epoch), as_bytes(aad), kek.span(), &sealed));
  std::string data;
  Encoder(&data).u32(epoch).raw(sealed);
  KISEKI_TRY(write_file_atomic(tenant_path(tenant), data, 0600));
  tenants_.emplace(tenant, kek);
  return Status::ok();
}

Result<SecretKey> FileKeyManager::tenant_kek(TenantId tenant) const {
  std::lock_guard lock(mu_);
  if (auto it = tenants_.find(tenant); it != tenants_.end()) return it->second;
  std::string path = tenant_path(tenant);
  if (file_exists(path + ".shredded"))
    return make_error(ErrorCode::kCryptoShredded, "tenant " + std::to_string(tenant) + " was crypto-shredded");
  auto data = read_file(path);
  if (!data) return not_found("no key for tenant " + std::to_string(tenant));
  Decoder d(*data);
  uint32_t epoch = d.u32();
  auto master = masters_.find(epoch);
  if (!d.ok() || master == masters_.end()) return corruption("tenant key file " + path);
  std::string kek;
  std::string aad = "kiseki-kek" + std::to_string(tenant);
  KISEKI_TRY(tenant_open(master->second, as_bytes(aad), as_bytes(d.raw(d.remaining())), &kek));
  if (kek.size() != kKeySize) return corruption("tenant key file " + path);
  SecretKey k(std::span<const uint8_t, kKeySize>(reinterpret_cast<const uint8_t*>(kek.data()), kKeySize));
  secure_zero(kek.data(), kek.size());
  tenants_.emplace(tenant, k);
  return k;
}

Status FileKeyManager::shred_tenant_key(TenantId tenant) {
  std::lock_guard lock(mu_);
  std::string path = tenant_path(tenant);
  KISEKI_TRY(write_file_atomic(path + ".shredded", "shredded\n", 0600));
  // Overwrite the wrapped key in place before unlinking, then make the unlink durable.
  if (int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC); fd >= 0) {
    struct stat st;
    if (::fstat(fd, &st) == 0) {
      std::string zeros(static_cast<size_t>(st.st_size), '\0');
      ssize_t n = ::pwrite(fd, zeros.data(), zeros.size(), 0);
      (void)n;
      ::fdatasync(fd);
    }
    ::close(fd);
  }
  ::unlink(path.c_str());
  KISEKI_TRY(fsync_dir(dir_));
  tenants_.erase(tenant);  // SecretKey's destructor zeroes the cached copy
  return Status::ok();
}

}  // namespace kiseki::crypto
