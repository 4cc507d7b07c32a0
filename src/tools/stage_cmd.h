// `kiseki stage TENANT/NAMESPACE/PATH`: a tree of a mounted namespace pinned
// into the mount's disk cache (docs/mount.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace kiseki::tools {

void add_stage_command(CLI::App& app, std::function<void(std::function<int()>)> run);

}  // namespace kiseki::tools
