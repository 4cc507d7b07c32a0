#include "common/config.h"

#include <cctype>
#include <charconv>
#include <toml++/toml.h>

namespace kiseki {

static void flatten(const toml::table& t, const std::string& prefix,
                    std::map<std::string, std::string>* out) {
  for (const auto& [k, node] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "_" + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      flatten(*sub, key, out);
    } else if (const auto* s = node.as_string()) {
      (*out)[key] = s->get();
    } else if (const auto* i = node.as_integer()) {
      (*out)[key] = std::to_string(i->get());
    } else if (const auto* b = node.as_boolean()) {
      (*out)[key] = b->get() ? "true" : "false";
    } else if (const auto* f = node.as_floating_point()) {
      (*out)[key] = std::to_string(f->get());
    }
  }
}

Status Config::load_toml_string(std::string_view text) {
  try {
    toml::table t = toml::parse(text);
    flatten(t, "", &values_);
  } catch (const toml::parse_error& e) {
    return invalid_argument(std::string("config: ") + std::string(e.description()));
  }
  return Status::ok();
}

Status Config::load_toml_file(const std::string& path) {
  try {
    toml::table t = toml::parse_file(path);
    flatten(t, "", &values_);
  } catch (const toml::parse_error& e) {
    return invalid_argument("config " + path + ": " + std::string(e.description()));
  }
  return Status::ok();
}

void Config::load_env(char** env) {
  static constexpr std::string_view kPrefix = "KISEKI_";
  for (char** e = env; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, kPrefix.size()) != kPrefix) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(kv.substr(kPrefix.size(), eq - kPrefix.size()));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    values_[key] = std::string(kv.substr(eq + 1));
  }
}

std::string Config::get_string(const std::string& key, std::string def) const {
  auto it = values_.find(key);
  return it == values_.end() ? def : it->second;
}

Result<int64_t> Config::get_int(const std::string& key, int64_t def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  int64_t v = 0;
  const auto& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return invalid_argument("config " + key + ": not an integer: " + s);
  return v;
}

Result<bool> Config::get_bool(const std::string& key, bool def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  if (it->second == "true" || it->second == "1" || it->second == "yes") return true;
  if (it->second == "false" || it->second == "0" || it->second == "no") return false;
  return invalid_argument("config " + key + ": not a boolean: " + it->second);
}

Result<uint64_t> parse_size(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return invalid_argument("not a size: " + std::string(s));
  std::string_view unit(p, s.data() + s.size() - p);
  uint64_t mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k") mult = 1ull << 10;
  else if (unit == "MiB" || unit == "M") mult = 1ull << 20;
  else if (unit == "GiB" || unit == "G") mult = 1ull << 30;
  else if (unit == "TiB" || unit == "T") mult = 1ull << 40;
  else return invalid_argument("unknown size unit: " + std::string(s));
  if (v > UINT64_MAX / mult) return invalid_argument("size overflows: " + std::string(s));
  return v * mult;
}

Result<uint64_t> Config::get_size(const std::string& key, uint64_t def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  auto r = parse_size(it->second);
  if (!r) return invalid_argument("config " + key + ": " + r.status().message());
  return r;
}

}  // namespace kiseki
