// `kiseki mount` and `kiseki umount` (docs/mount.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace kiseki::tools {

struct MountCommandContext {
  const std::string* credentials;  // --credentials (empty: environment, else DATA_DIR/credentials)
  const std::string* profile;
  const std::string* data_dir;
  const std::string* ca_cert;      // --ca-cert: the CA of a server with a certificate (with --tls)
  std::function<void(std::function<int()>)> run;  // sets the command's action
};

void add_mount_commands(CLI::App& app, const MountCommandContext& ctx);

}  // namespace kiseki::tools
