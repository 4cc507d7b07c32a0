// Durability modes (docs/durability.md says what each can lose).
#pragma once

#include <optional>
#include <string_view>

namespace kiseki {

enum class Durability : uint8_t {
  kSync,   // acknowledged => on stable storage; fsyncs shared by group commit
  kGroup,  // fsync at least every group_commit_ms; a crash loses at most that window
  kNone,   // page cache only: benchmarks and scratch data
};

inline std::optional<Durability> parse_durability(std::string_view s) {
  if (s == "sync") return Durability::kSync;
  if (s == "group") return Durability::kGroup;
  if (s == "none") return Durability::kNone;
  return std::nullopt;
}

inline std::string_view durability_name(Durability d) {
  switch (d) {
    case Durability::kSync: return "sync";
    case Durability::kGroup: return "group";
    case Durability::kNone: return "none";
  }
  return "?";
}

}  // namespace kiseki
