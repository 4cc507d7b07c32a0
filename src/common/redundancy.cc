#include "common/redundancy.h"

#include <charconv>

namespace kiseki {

std::string Redundancy::name() const {
  if (erasure_coded()) return "ec=" + std::to_string(a) + "+" + std::to_string(b);
  return "replicas=" + std::to_string(a);
}

namespace {
bool number(std::string_view s, unsigned lo, unsigned hi, uint8_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = static_cast<uint8_t>(v);
  return true;
}
}  // namespace

Result<Redundancy> Redundancy::parse(std::string_view s) {
  Redundancy r;
  if (s.starts_with("replicas=")) {
    if (number(s.substr(9), 1, 7, &r.a)) return Redundancy::replicas(r.a);
    return invalid_argument("durability '" + std::string(s) + "': replicas=N takes N from 1 to 7");
  }
  if (s.starts_with("ec=")) {
    std::string_view km = s.substr(3);
    auto plus = km.find('+');
    if (plus != std::string_view::npos && number(km.substr(0, plus), 2, 32, &r.a) &&
        number(km.substr(plus + 1), 1, 8, &r.b))
      return Redundancy::erasure(r.a, r.b);
    return invalid_argument("durability '" + std::string(s) + "': ec=K+M takes K from 2 to 32 and M from 1 to 8");
  }
  return invalid_argument("durability '" + std::string(s) + "': say replicas=N or ec=K+M (for example ec=4+2)");
}

std::string Redundancy::encode() const {
  return std::string{static_cast<char>(kind), static_cast<char>(a), static_cast<char>(b)};
}

Result<Redundancy> Redundancy::decode(std::string_view v) {
  if (v.size() != 3) return corruption("durability policy: bad length");
  Redundancy r{static_cast<Kind>(v[0]), static_cast<uint8_t>(v[1]), static_cast<uint8_t>(v[2])};
  auto back = parse(r.name());
  if (!back || !(*back == r)) return corruption("durability policy: bad value");
  return r;
}

}  // namespace kiseki
