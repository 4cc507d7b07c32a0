#include "cluster/cluster_map.h"

#include "common/bytes.h"
#include "meta/schema.h"
#include "namespace/delta.h"
#include "namespace/state_machine.h"

namespace kiseki::cluster {

namespace {
constexpr uint8_t kNodeFormat = 2;  // 1: without domain and weight
}

const char* node_state_name(NodeState s) {
  switch (s) {
    case NodeState::kActive: return "active";
    case NodeState::kDraining: return "draining";
    case NodeState::kRemoved: return "removed";
  }
  return "unknown";
}

std::string encode_node(const NodeInfo& n) {
  std::string out;
  Encoder(&out).u8(kNodeFormat).u8(static_cast<uint8_t>(n.state)).str(n.fabric).str(n.domain).u32(n.weight);
  return out;
}

Result<NodeInfo> decode_node(uint64_t id, std::string_view value) {
  Decoder d(value);
  NodeInfo n;
  n.id = id;
  uint8_t format = d.u8();
  if (format != 1 && format != kNodeFormat) return corruption("node record: unknown format");
  uint8_t st = d.u8();
  n.fabric = std::string(d.str());
  if (format >= 2) {
    n.domain = std::string(d.str());
    n.weight = d.u32();
  }
  if (!d.ok() || !d.done() || st < 1 || st > 3) return corruption("node record: malformed");
  n.state = static_cast<NodeState>(st);
  return n;
}

std::string set_node_record(const NodeInfo& n, bool if_absent, const RequestId& req) {
  ns::Delta d;
  d.op = ns::Op::kSetNode;
  d.a = n.id;
  d.blob = encode_node(n);
  if (if_absent) d.flags |= ns::kExclusive;
  return ns::encode_record({d}, req);
}

std::optional<std::pair<NodeInfo, bool>> node_of_record(std::string_view record) {
  if (ns::first_op(record) != static_cast<uint8_t>(ns::Op::kSetNode)) return std::nullopt;
  std::vector<ns::Delta> deltas;
  if (!ns::decode_record(record, &deltas, nullptr).is_ok() || deltas.size() != 1 || deltas[0].op != ns::Op::kSetNode)
    return std::nullopt;
  auto n = decode_node(deltas[0].a, deltas[0].blob);
  if (!n) return std::nullopt;
  return std::make_pair(*n, (deltas[0].flags & ns::kExclusive) != 0);
}

Result<std::vector<NodeInfo>> load_nodes(const meta::Store& store) {
  std::vector<NodeInfo> out;
  const std::string prefix = "node:";
  auto it = store.iterator(meta::Cf::kSystem);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view k = it->key().ToStringView().substr(prefix.size());
    if (k.size() != 8) return corruption("node key");
    KISEKI_ASSIGN_OR_RETURN(NodeInfo n, decode_node(get_be64(reinterpret_cast<const uint8_t*>(k.data())),
                                                    it->value().ToStringView()));
    out.push_back(std::move(n));
  }
  KISEKI_TRY(meta::from_rocks(it->status(), "scan the cluster map"));
  return out;
}

}  // namespace kiseki::cluster
