// Layered configuration: defaults < TOML file < KISEKI_* environment < flags.
// Keys are flat, lower-case, '_'-separated ("s3_listen", "durability"); a TOML
// table [chunk] with key max_size is the key "chunk_max_size", and so is the
// environment variable KISEKI_CHUNK_MAX_SIZE.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiseki {

class Config {
 public:
  // Reads a TOML file; nested tables are flattened with '_'.
  Status load_toml_file(const std::string& path);
  Status load_toml_string(std::string_view text);
  // Reads every KISEKI_<KEY> variable of `env` (nullptr-terminated, like environ).
  void load_env(char** env);
  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::string get_string(const std::string& key, std::string def) const;
  Result<int64_t> get_int(const std::string& key, int64_t def) const;
  Result<bool> get_bool(const std::string& key, bool def) const;
  // Accepts sizes such as 4096, 64KiB, 4MiB, 1GiB.
  Result<uint64_t> get_size(const std::string& key, uint64_t def) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Parses "64KiB", "4MiB", "1GiB", "512" (bytes).
Result<uint64_t> parse_size(std::string_view s);

}  // namespace kiseki
