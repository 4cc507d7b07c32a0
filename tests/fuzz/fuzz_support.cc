#include "fuzz/fuzz_support.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kiseki::fuzz {

World& world() {
  static World* w = [] {
    spdlog::set_level(spdlog::level::off);
    auto* out = new World;
    static char dir[] = "/tmp/kiseki-fuzz-XXXXXX";
    if (!::mkdtemp(dir)) std::abort();
    std::atexit([] { std::filesystem::remove_all(dir); });
    gateway::GatewayOptions o;
    o.data_dir = dir;
    o.durability = Durability::kNone;
    auto gw = gateway::Gateway::open(o);
    if (!gw) {
      std::fprintf(stderr, "fuzz: gateway: %s\n", gw.status().message().c_str());
      std::abort();
    }
    out->gw = std::move(*gw);
    out->tenant = *out->gw->create_tenant("fuzz");
    out->ns = *out->gw->create_namespace(out->tenant, "data");
    out->key = *out->gw->create_access_key(out->tenant);
    return out;
  }();
  return *w;
}

std::string replace_all(std::string_view in, std::string_view marker, std::string_view with) {
  std::string out;
  for (size_t pos = 0;;) {
    size_t at = in.find(marker, pos);
    if (at == std::string_view::npos) {
      out.append(in.substr(pos));
      return out;
    }
    out.append(in.substr(pos, at - pos)).append(with);
    pos = at + marker.size();
  }
}

}  // namespace kiseki::fuzz
