// How a cluster keeps a namespace's chunks (docs/cluster.md#durability-policies):
// N whole copies, or K data and M parity fragments of Reed–Solomon erasure
// coding. Set when a namespace is made, kept in its record, and carried by the
// first reference to each chunk, so every node agrees where a chunk's copies or
// fragments belong (placement is a function of the map, the id and this).
// Not to be confused with Durability (durability.h): when a write is synced.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiseki {

struct Redundancy {
  enum class Kind : uint8_t { kReplicas = 1, kErasure = 2 };
  Kind kind = Kind::kReplicas;
  uint8_t a = 3;  // replicas: copies; erasure: K data fragments
  uint8_t b = 0;  // erasure: M parity fragments

  static constexpr Redundancy replicas(uint8_t n) { return {Kind::kReplicas, n, 0}; }
  static constexpr Redundancy erasure(uint8_t k, uint8_t m) { return {Kind::kErasure, k, m}; }
  bool erasure_coded() const { return kind == Kind::kErasure; }
  // Places a chunk takes: copies, or K+M fragments.
  uint32_t slots() const { return erasure_coded() ? uint32_t{a} + b : a; }
  // Slots that must be durable before a write is acknowledged: a majority of
  // the copies; K+1 fragments (one loss more than the bare minimum).
  uint32_t write_quorum() const { return erasure_coded() ? std::min<uint32_t>(a + 1u, slots()) : a / 2u + 1u; }
  // Slots that must survive for the chunk to be readable.
  uint32_t needed() const { return erasure_coded() ? a : 1; }
  // "replicas=3", "ec=4+2".
  std::string name() const;
  // Parses a name; replicas 1..7, ec K 2..32 and M 1..8.
  static Result<Redundancy> parse(std::string_view s);
  // 3 bytes: kind · a · b.
  std::string encode() const;
  static Result<Redundancy> decode(std::string_view v);
  auto operator<=>(const Redundancy&) const = default;
};

// How a cluster keeps a chunk whose count records no redundancy, and the
// chunks of a namespace made before policies existed.
constexpr Redundancy kLegacyRedundancy = Redundancy::replicas(3);

}  // namespace kiseki
