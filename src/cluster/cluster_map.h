// The cluster map: every node's id, fabric address and state, kept in the
// replicated state of the root shard (a kSetNode record per change), so every
// node knows the same members. Raft's own configuration says who votes; this
// says where a node is and whether chunks are placed on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "meta/store.h"

namespace kiseki::cluster {

enum class NodeState : uint8_t {
  kActive = 1,    // holds chunk copies and serves
  kDraining = 2,  // serves; new chunks are not placed on it, it leads no shard
  kRemoved = 3,   // gone from the cluster; its id is not used again
};
const char* node_state_name(NodeState s);

struct NodeInfo {
  uint64_t id = 0;
  std::string fabric;  // "a.b.c.d:port" of --cluster-listen (Raft: port + 1)
  NodeState state = NodeState::kActive;
  std::string domain;   // failure domain (--failure-domain); empty: its own
  uint32_t weight = 1;  // capacity in GiB: its share of placement
};

std::string encode_node(const NodeInfo& n);
Result<NodeInfo> decode_node(uint64_t id, std::string_view value);

// The record that sets a node (`if_absent`: only if the map has no such id yet).
std::string set_node_record(const NodeInfo& n, bool if_absent, const RequestId& req);
// What a kSetNode record sets, and whether it was `if_absent`; nullopt for
// any other record.
std::optional<std::pair<NodeInfo, bool>> node_of_record(std::string_view record);

// Every node the store's map holds.
Result<std::vector<NodeInfo>> load_nodes(const meta::Store& store);

}  // namespace kiseki::cluster
