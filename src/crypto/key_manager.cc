#include "crypto/key_manager.h"

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/bytes.h"
#include "common/file_util.h"
#include "crypto/chunk_cipher.h"
#include "crypto/primitives.h"
#include "common/kill_point.h"

namespace kiseki::crypto {

// master file: "KSKM" · u32 count · count × (u32 epoch · 32-byte key)
static constexpr std::string_view kMasterMagic = "KSKM";

Result<std::unique_ptr<FileKeyManager>> FileKeyManager::open(const std::string& dir, const Env& env,
                                                             std::string_view first_epoch) {
  if (!first_epoch.empty() && first_epoch.size() != kKeySize) return invalid_argument("a master key has 32 bytes");
  KISEKI_TRY(make_dirs(dir));
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<FileKeyManager> km(new FileKeyManager(dir, env));
  KISEKI_TRY(km->load_master(first_epoch));
  return km;
}

Status FileKeyManager::load_master(std::string_view first_epoch) {
  std::string path = dir_ + "/master";
  auto given = [&] {
    return SecretKey(std::span<const uint8_t, kKeySize>(reinterpret_cast<const uint8_t*>(first_epoch.data()), kKeySize));
  };
  if (!file_exists(path)) {
    std::lock_guard lock(mu_);
    masters_.emplace(1, first_epoch.empty() ? SecretKey::random() : given());
    return write_master_locked();
  }
  KISEKI_ASSIGN_OR_RETURN(std::string data, read_file(path, env_));
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
  if (!first_epoch.empty()) {
    auto it = masters_.find(1);
    SecretKey want = given();
    if (it == masters_.end() || CRYPTO_memcmp(it->second.data(), want.data(), kKeySize) != 0)
      return invalid_argument("key file " + path + " was not made for this cluster (its first epoch differs from the "
                              "one the cluster secret gives): a data directory belongs to one cluster");
  }
  return Status::ok();
}

Status FileKeyManager::write_master_locked() {
  std::string data;
  Encoder e(&data);
  e.raw(kMasterMagic).u32(static_cast<uint32_t>(masters_.size()));
  for (const auto& [epoch, key] : masters_) e.u32(epoch).raw(key.span());
  Status st = write_file_atomic(dir_ + "/master", data, 0600, env_);
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

// Wrapped KEK: u32 epoch · tenant_seal(master[epoch], aad = "kiseki-kek:" · name, KEK).
// Tenant file: str name · wrapped.
Result<std::string> FileKeyManager::new_wrapped_tenant_key(std::string_view name) {
  std::lock_guard lock(mu_);
  SecretKey kek = SecretKey::random();
  uint32_t epoch = masters_.rbegin()->first;
  std::string aad = "kiseki-kek:" + std::string(name);
  std::string sealed;
  KISEKI_TRY(tenant_seal(masters_.at(epoch), as_bytes(aad), kek.span(), &sealed));
  std::string wrapped;
  Encoder(&wrapped).u32(epoch).raw(sealed);
  return wrapped;
}

Result<SecretKey> FileKeyManager::unwrap_locked(std::string_view name, std::string_view wrapped) const {
  Decoder d(wrapped);
  uint32_t epoch = d.u32();
  auto master = masters_.find(epoch);
  if (!d.ok() || master == masters_.end()) return corruption("wrapped key of tenant " + std::string(name));
  std::string kek;
  std::string aad = "kiseki-kek:" + std::string(name);
  KISEKI_TRY(tenant_open(master->second, as_bytes(aad), as_bytes(d.raw(d.remaining())), &kek));
  if (kek.size() != kKeySize) return corruption("wrapped key of tenant " + std::string(name));
  SecretKey k(std::span<const uint8_t, kKeySize>(reinterpret_cast<const uint8_t*>(kek.data()), kKeySize));
  secure_zero(kek.data(), kek.size());
  return k;
}

Result<SecretKey> FileKeyManager::unwrap_key(std::string_view name, std::string_view wrapped) const {
  std::lock_guard lock(mu_);
  return unwrap_locked(name, wrapped);
}

Status FileKeyManager::install_tenant_key(TenantId tenant, std::string_view name, std::string_view wrapped) {
  std::lock_guard lock(mu_);
  if (file_exists(tenant_path(tenant) + ".shredded")) return make_error(ErrorCode::kExists, "tenant key was shredded");
  KISEKI_ASSIGN_OR_RETURN(SecretKey kek, unwrap_locked(name, wrapped));
  std::string data;
  Encoder(&data).str(name).raw(wrapped);
  if (file_exists(tenant_path(tenant))) {
    // Installing the same key again (a restart, a replay) is fine; another is not.
    KISEKI_ASSIGN_OR_RETURN(std::string have, read_file(tenant_path(tenant), env_));
    if (have != data) return make_error(ErrorCode::kExists, "tenant " + std::to_string(tenant) + " has another key");
  } else {
    KISEKI_TRY(write_file_atomic(tenant_path(tenant), data, 0600, env_));
  }
  tenants_.insert_or_assign(tenant, kek);
  return Status::ok();
}

Result<SecretKey> FileKeyManager::tenant_kek(TenantId tenant) const {
  std::lock_guard lock(mu_);
  if (auto it = tenants_.find(tenant); it != tenants_.end()) return it->second;
  std::string path = tenant_path(tenant);
  if (file_exists(path + ".shredded"))
    return make_error(ErrorCode::kCryptoShredded, "tenant " + std::to_string(tenant) + " was crypto-shredded");
  if (!file_exists(path)) return not_found("no key for tenant " + std::to_string(tenant));
  KISEKI_ASSIGN_OR_RETURN(std::string data, read_file(path, env_));
  Decoder d(data);
  std::string name(d.str());
  if (!d.ok()) return corruption("tenant key file " + path);
  KISEKI_ASSIGN_OR_RETURN(SecretKey k, unwrap_locked(name, d.raw(d.remaining())));
  tenants_.emplace(tenant, k);
  return k;
}

Status FileKeyManager::shred_tenant_key(TenantId tenant) {
  std::lock_guard lock(mu_);
  std::string path = tenant_path(tenant);
  KISEKI_TRY(write_file_atomic(path + ".shredded", "shredded\n", 0600, env_));
  KISEKI_KILL_POINT("shred.after_marker");
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
  (void)env_.unlink(path);
  KISEKI_TRY(fsync_dir(dir_, env_));
  KISEKI_KILL_POINT("shred.after_key_gone");
  tenants_.erase(tenant);  // SecretKey's destructor zeroes the cached copy
  return Status::ok();
}

}  // namespace kiseki::crypto
