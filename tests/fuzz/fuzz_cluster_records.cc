// libFuzzer: what nodes of a cluster take from each other and keep: fragment
// records (alone, and several decoded together as a read or a repair does),
// cluster map node records, and the redundancy a chunk's count carries. The
// first byte picks the decoder; a fragment set that decodes must give the
// length its records say.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string_view>

#include "cluster/cluster_map.h"
#include "cluster/erasure.h"
#include "common/redundancy.h"

using namespace kiseki;

// KISEKI_FUZZ_SEEDS=DIR: writes the seed corpus (what the real encoders make).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KISEKI_FUZZ_SEEDS");
  if (!dir) return 0;
  auto code = *cluster::ErasureCode::get(4, 2);
  std::string sealed(3000, '\0');
  for (size_t i = 0; i < sealed.size(); ++i) sealed[i] = static_cast<char>(i * 7);
  auto frags = code->encode(sealed);
  std::string set(1, '\3');
  for (uint32_t i : {0u, 2u, 3u, 5u}) set += std::string(1, static_cast<char>(i)) + frags[i].substr(0, 4) + frags[i];
  cluster::NodeInfo n{7, "10.0.0.7:7000", cluster::NodeState::kDraining, "rack-b", 250};
  const std::pair<const char*, std::string> seeds[] = {
      {"fragment", std::string(1, '\0') + frags[1]},
      {"node", std::string(1, '\1') + cluster::encode_node(n)},
      {"redundancy", std::string(1, '\2') + Redundancy::erasure(8, 3).encode()},
      {"fragment-set", set}};
  for (const auto& [name, bytes] : seeds) std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      std::string_view bytes;
      auto h = cluster::parse_fragment(in, &bytes);
      if (h && bytes.size() != in.size() - cluster::kFragmentHeaderSize) std::abort();
      break;
    }
    case 1: {
      auto n = cluster::decode_node(1, in);
      if (n && cluster::decode_node(1, cluster::encode_node(*n))->fabric != n->fabric) std::abort();
      break;
    }
    case 2: {
      auto r = Redundancy::decode(in);
      if (r && !(*Redundancy::decode(r->encode()) == *r)) std::abort();
      (void)Redundancy::parse(in);
      break;
    }
    case 3: {
      // index u8 · length u32 (little-endian, of the next record) · record, repeated.
      std::map<uint32_t, std::string> records;
      while (in.size() >= 5) {
        uint32_t index = static_cast<uint8_t>(in[0]) % 6, len = 0;
        for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(in[1 + i])) << (8 * i);
        in.remove_prefix(5);
        len = std::min<uint32_t>(len, static_cast<uint32_t>(in.size()));
        records[index] = std::string(in.substr(0, len));
        in.remove_prefix(len);
      }
      auto code = *cluster::ErasureCode::get(4, 2);
      std::string sealed;
      if (code->decode(records, &sealed).is_ok()) {
        std::string_view b;
        auto h = cluster::parse_fragment(records.begin()->second, &b);
        if (!h || sealed.size() != h->sealed_length) std::abort();
      }
      (void)code->rebuild(cluster::ErasureCode::views(records), {1, 4});
      break;
    }
  }
  return 0;
}
