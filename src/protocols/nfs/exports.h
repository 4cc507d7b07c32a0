// NFS exports: one per namespace, at "/<tenant>/<namespace>". An export has
// options (read-only, root squash, anonymous ids, client allow-list) written in
// the style of exports(5): "ro,root_squash,clients=127.0.0.0/8|10.0.0.5".
// Exports come from the config (nfs_exports = "PATH OPTS; PATH OPTS") and from
// the admin API (stored in the metadata store, so they outlive restarts); with
// nfs_export_all every other namespace is exported with the default options.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/gateway.h"

namespace kiseki::nfs {

struct Cidr {
  uint32_t addr = 0;  // host byte order
  uint32_t mask = 0;
  bool contains(uint32_t ip) const { return (ip & mask) == addr; }
};
Result<Cidr> parse_cidr(std::string_view s);  // "10.0.0.0/8", "10.1.2.3", "*"

struct ExportOptions {
  bool read_only = false;
  bool root_squash = true;
  uint32_t anon_uid = 65534, anon_gid = 65534;
  std::vector<Cidr> clients;  // empty: every client
  std::vector<std::string> client_text;

  bool allows(uint32_t ip) const;
  std::string to_string() const;
};
Result<ExportOptions> parse_export_options(std::string_view s);
// Checks a configured export list ("/tenant/ns OPTS; …") without a Gateway: the
// paths' form and every option (the server does so before touching its data).
Status check_export_list(std::string_view config_exports);

struct Export {
  std::string path;  // "/tenant/namespace"
  gateway::NsRef ns;
  ExportOptions opts;
  bool configured = false;  // from the config or the admin API (else nfs_export_all)
};

using ExportRef = std::shared_ptr<const Export>;  // shared, never copied per call

class ExportTable {
 public:
  ExportTable(gateway::Gateway* gw, bool export_all, ExportOptions defaults)
      : gw_(gw), export_all_(export_all), defaults_(std::move(defaults)) {}

  // Adds the config's exports ("PATH OPTS; PATH OPTS") and the stored ones.
  Status load(std::string_view config_exports);
  // Adds or replaces an export and stores it; the namespace must exist.
  Status put(const std::string& path, const ExportOptions& opts);
  Status remove(const std::string& path);
  // Every export: configured ones, then (with export_all) every other namespace.
  std::vector<Export> list() const;

  Result<ExportRef> find_path(std::string_view path) const;
  // The export a handle's namespace belongs to (every NFS call: one map lookup).
  Result<ExportRef> find_ns(TenantId tenant, NamespaceId ns) const;

 private:
  Result<gateway::NsRef> resolve(std::string_view path) const;
  Status add(const std::string& path, const ExportOptions& opts);

  gateway::Gateway* gw_;
  bool export_all_;
  ExportOptions defaults_;
  mutable std::mutex mu_;  // guards the maps
  std::map<std::string, ExportRef> by_path_;  // configured exports
  // Configured exports and, as handles name them, nfs_export_all's.
  mutable std::map<NamespaceId, ExportRef> by_ns_;
};

}  // namespace kiseki::nfs
