// What the libFuzzer targets share: a real Gateway in a throwaway directory
// (durability none: nothing waits on the disk), made once per process, with
// one tenant, namespace and access key; and substitution of the markers that
// seed inputs use for what only exists at run time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gateway/gateway.h"

namespace kiseki::fuzz {

struct World {
  std::unique_ptr<gateway::Gateway> gw;
  TenantId tenant = 0;
  gateway::NsRef ns;            // tenant "fuzz", namespace "data"
  gateway::AccessKey key;
};

// Made on the first call; logging off.
World& world();

// `in` with every `marker` replaced by `with`.
std::string replace_all(std::string_view in, std::string_view marker, std::string_view with);

}  // namespace kiseki::fuzz
