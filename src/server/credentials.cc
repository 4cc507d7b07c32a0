#include "server/credentials.h"

#include <cstdio>

#include "common/file_util.h"
#include "common/logging.h"

namespace kiseki::server {

Status ensure_root_credentials(gateway::Gateway* gw, const std::string& data_dir, const char* access_key,
                               const char* secret_key, bool cluster) {
  auto t = gw->find_tenant("default");
  TenantId tenant = 0;
  if (t) {
    tenant = t->id;
  } else if (t.code() == ErrorCode::kNotFound) {
    auto made = gw->create_tenant("default");
    if (made) {
      tenant = *made;
    } else if (made.code() == ErrorCode::kExists) {  // another node made it meanwhile
      KISEKI_ASSIGN_OR_RETURN(auto again, gw->find_tenant("default"));
      tenant = again.id;
    } else {
      return made.status();
    }
  } else {
    return t.status();
  }
  std::string path = data_dir + "/credentials";
  auto file_text = [](const gateway::AccessKey& k) {
    return "# Kiseki root credentials for tenant 'default' (created on first start)\n"
           "[default]\naws_access_key_id = " + k.access_key_id +
           "\naws_secret_access_key = " + k.secret_key + "\n";
  };
  if (cluster && !(access_key && *access_key && secret_key && *secret_key)) {
    KISEKI_ASSIGN_OR_RETURN(std::string material, gw->cluster_secret("root-credentials", 60));
    gateway::AccessKey k = gateway::make_access_key(tenant, as_bytes(material));
    auto existing = gw->get_access_key(k.access_key_id);
    if (!existing || existing->secret_key != k.secret_key || existing->tenant != tenant) KISEKI_TRY(gw->put_access_key(k));
    std::string text = file_text(k);
    auto have = read_file(path);
    if (!have || *have != text) {
      KISEKI_TRY(write_file_atomic(path, text, 0600));
      std::printf("Kiseki root credentials of the cluster, kept in %s (the same on every node)\n", path.c_str());
      std::fflush(stdout);
    }
    return Status::ok();
  }
  if (access_key && *access_key && secret_key && *secret_key) {
    auto existing = gw->get_access_key(access_key);
    if (existing && existing->secret_key == secret_key && existing->tenant == tenant) return Status::ok();
    KISEKI_TRY(gw->put_access_key({access_key, secret_key, tenant}));
    KLOG_INFO("root access key {} set from the environment", access_key);
    return Status::ok();
  }
  if (file_exists(path)) return Status::ok();
  KISEKI_ASSIGN_OR_RETURN(gateway::AccessKey k, gw->create_access_key(tenant));
  // The key (and the tenant) durable before the file that names it, whatever
  // the durability mode: a power loss must not leave a file naming no key.
  KISEKI_TRY(gw->sync());
  KISEKI_TRY(write_file_atomic(path, file_text(k), 0600));
  std::printf("Kiseki root credentials (shown once, kept in %s):\n  access key: %s\n  secret key: %s\n",
              path.c_str(), k.access_key_id.c_str(), k.secret_key.c_str());
  std::fflush(stdout);
  return Status::ok();
}

}  // namespace kiseki::server
