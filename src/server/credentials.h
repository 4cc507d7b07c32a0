// First-start set-up: the `default` tenant and the root access key, printed once
// and kept in DATA/credentials (mode 0600); KISEKI_ROOT_ACCESS_KEY and
// KISEKI_ROOT_SECRET_KEY choose the pair instead. In a cluster the pair is made
// once for the cluster (a secret in its replicated state), so every node writes
// the same file.
#pragma once

#include "gateway/gateway.h"

namespace kiseki::server {

Status ensure_root_credentials(gateway::Gateway* gw, const std::string& data_dir, const char* access_key,
                               const char* secret_key, bool cluster = false);

}  // namespace kiseki::server
