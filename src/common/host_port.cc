#include "common/host_port.h"

#include <charconv>

namespace kiseki {

Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return invalid_argument("expected HOST:PORT, got " + std::string(s));
  unsigned port = 0;
  auto ps = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535)
    return invalid_argument("bad port in " + std::string(s));
  std::string host(s.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace kiseki
