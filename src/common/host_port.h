// "HOST:PORT" listen and endpoint addresses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace kiseki {

// "127.0.0.1:9000", "[::1]:9000", "localhost:0" → (host, port); kInvalidArgument if malformed.
Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s);

}  // namespace kiseki
