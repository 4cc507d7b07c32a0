#include "mount/mount_options.h"

#include <charconv>

#include "common/config.h"

namespace kiseki::mount {

namespace {

template <typename T>
bool number(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool seconds(std::string_view s, double* out) {
  try {
    size_t used = 0;
    *out = std::stod(std::string(s), &used);
    return used == s.size() && *out >= 0 && *out <= 86400;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

Result<MountOptions> parse_mount_options(std::string_view text) {
  MountOptions o;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view opt = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    std::string_view key = opt.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
    bool has_value = eq != std::string_view::npos;
    auto bad = [&] { return invalid_argument("mount option '" + std::string(opt) + "' is not valid"); };
    if (key == "allow_other" && !has_value) o.allow_other = true;
    else if (key == "ro" && !has_value) o.read_only = true;
    else if (key == "rw" && !has_value) o.read_only = false;
    else if (key == "writeback" && !has_value) o.writeback_cache = true;
    else if (key == "no_writeback" && !has_value) o.writeback_cache = false;
    else if (key == "debug" && !has_value) o.debug = true;
    else if (key == "uid" || key == "gid") {
      uint32_t v = 0;
      if (!number(value, &v)) return bad();
      (key == "uid" ? o.uid : o.gid) = v;
    } else if (key == "attr_timeout") {
      if (!seconds(value, &o.attr_timeout_s)) return bad();
    } else if (key == "entry_timeout") {
      if (!seconds(value, &o.entry_timeout_s)) return bad();
    } else if (key == "max_threads") {
      if (!number(value, &o.max_threads) || o.max_threads == 0 || o.max_threads > 1024) return bad();
    } else if (key == "cache") {
      if (value == "organic") o.cache.mode = client::CacheMode::kOrganic;
      else if (value == "pinned") o.cache.mode = client::CacheMode::kPinned;
      else if (value == "bypass") o.cache.mode = client::CacheMode::kBypass;
      else return invalid_argument("cache= is organic, pinned or bypass, not '" + std::string(value) + "'");
    } else if (key == "cache_dir") {
      if (value.empty() || value[0] != '/') return invalid_argument("cache_dir= needs an absolute path");
      o.cache.dir = std::string(value);
    } else if (key == "cache_size" || key == "cache_mem") {
      auto n = parse_size(value);
      if (!n) return bad();
      (key == "cache_size" ? o.cache.disk_bytes : o.cache.memory_bytes) = *n;
    } else {
      return invalid_argument("unknown mount option '" + std::string(opt) +
                              "' (known: allow_other, ro, rw, uid=, gid=, attr_timeout=, entry_timeout=, "
                              "writeback, no_writeback, max_threads=, debug, cache=, cache_dir=, cache_size=, cache_mem=)");
    }
  }
  return o;
}

}  // namespace kiseki::mount
