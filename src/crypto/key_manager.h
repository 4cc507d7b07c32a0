// Key manager: master keys by epoch (system layer) and per-tenant key-encryption
// keys (tenant layer). The file-backed manager is the default; external KMS
// providers implement the same interface.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/env.h"
#include "common/ids.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace kiseki::crypto {

class KeyManager {
 public:
  virtual ~KeyManager() = default;
  virtual uint32_t current_epoch() const = 0;
  // kNotFound for an epoch that never existed.
  virtual Result<SecretKey> master_key(uint32_t epoch) const = 0;
  // Starts a new epoch; new chunks seal under it, older epochs stay readable.
  virtual Status rotate() = 0;

  // A new KEK for the tenant named `name`, wrapped under the current master epoch:
  // the material a tenant-creating delta carries, so every replica installs the
  // same key (the master key is the cluster's).
  virtual Result<std::string> new_wrapped_tenant_key(std::string_view name) = 0;
  // Unwraps material that new_wrapped_tenant_key made for `name` (the shared
  // dedup domain's root key is made and kept the same way).
  virtual Result<SecretKey> unwrap_key(std::string_view name, std::string_view wrapped) const = 0;
  // Unwraps and keeps the tenant's KEK on this node. kExists if it is shredded.
  virtual Status install_tenant_key(TenantId tenant, std::string_view name, std::string_view wrapped) = 0;
  // Shorthand for tests and tools: new_wrapped_tenant_key + install_tenant_key.
  Status create_tenant_key(TenantId tenant) {
    std::string name = "tenant-" + std::to_string(tenant);
    KISEKI_ASSIGN_OR_RETURN(std::string wrapped, new_wrapped_tenant_key(name));
    return install_tenant_key(tenant, name, wrapped);
  }
  // kCryptoShredded after shred_tenant_key, kNotFound if never created.
  virtual Result<SecretKey> tenant_kek(TenantId tenant) const = 0;
  // Destroys the tenant's key on stable storage and in memory.
  virtual Status shred_tenant_key(TenantId tenant) = 0;
};

// Keys under DIR/keys: `master` (epochs, mode 0600, created on first open) and
// `tenant-<id>` (name · the KEK sealed under a master epoch, as the tenant
// record in the replicated state has it). A shredded
// tenant leaves a `tenant-<id>.shredded` marker so errors say what happened.
class FileKeyManager final : public KeyManager {
 public:
  // `first_epoch` (32 bytes, a cluster's): the key of epoch 1, made the same
  // on every node; an existing key file must hold it. Empty: a random one.
  static Result<std::unique_ptr<FileKeyManager>> open(const std::string& dir, const Env& env = Env::posix(),
                                                      std::string_view first_epoch = {});

  uint32_t current_epoch() const override;
  Result<SecretKey> master_key(uint32_t epoch) const override;
  Status rotate() override;
  Result<std::string> new_wrapped_tenant_key(std::string_view name) override;
  Result<SecretKey> unwrap_key(std::string_view name, std::string_view wrapped) const override;
  Status install_tenant_key(TenantId tenant, std::string_view name, std::string_view wrapped) override;
  Result<SecretKey> tenant_kek(TenantId tenant) const override;
  Status shred_tenant_key(TenantId tenant) override;

 private:
  FileKeyManager(std::string dir, const Env& env) : dir_(std::move(dir)), env_(env) {}
  Result<SecretKey> unwrap_locked(std::string_view name, std::string_view wrapped) const;
  Status load_master(std::string_view first_epoch);
  Status write_master_locked();
  std::string tenant_path(TenantId t) const;

  std::string dir_;
  const Env& env_;
  mutable std::mutex mu_;  // guards masters_, tenants_
  std::map<uint32_t, SecretKey> masters_;
  mutable std::map<TenantId, SecretKey> tenants_;  // cache of unwrapped KEKs
};

}  // namespace kiseki::crypto
