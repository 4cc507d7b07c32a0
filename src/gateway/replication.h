// What a cluster gives the Gateway of one node (cluster/cluster_node.h
// implements it); a single node has none. The Gateway stays the one place that
// turns calls into deltas and chunks: the cluster supplies the log they go
// through and the other nodes' copies of the chunks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chunk/chunk_store.h"
#include "common/ids.h"
#include "common/redundancy.h"
#include "common/status.h"
#include "log/log.h"
#include "meta/store.h"

namespace kiseki::gateway {

class Replication {
 public:
  virtual ~Replication() = default;
  // How many metadata shards the cluster has (ADR 0009); shard 0 is the root.
  virtual uint32_t shards() const { return 1; }
  // The log records of `shard` go through (its Raft log over this node's store
  // of that shard). Shard 0's is opened first.
  virtual Result<std::unique_ptr<log::Log>> open_log(uint32_t shard, meta::Store* store, log::StateMachine* sm,
                                                     const log::LogOptions& opts) = 0;
  // This node's chunk store, for the chunks the other nodes send and fetch
  // (`store`: where it keeps their locations, the root shard's).
  virtual void serve_chunks(chunk::ChunkStore* chunks, meta::Store* store) = 0;
  // Sends the chunks this node holds to the nodes placement chooses for them,
  // kept as `form` says (copies, or erasure-coded fragments); ok once a write
  // quorum holds each durably (this node's pieces count when it is among them).
  virtual Status replicate(const std::vector<ChunkId>& ids, const Redundancy& form) = 0;
  // A sealed copy of a chunk from other nodes (this node lacks it, or its copy
  // failed its check): a copy, or K fragments decoded; kNotFound when no node
  // has a good one.
  virtual Status fetch(const ChunkId& id, Bytes* sealed) = 0;
  // Whether this node is one of the chunk's homes: a copy fetched is kept.
  virtual bool keeps(const ChunkId& id) const = 0;
  // The redundancy of a namespace made without one (an S3 bucket).
  virtual Redundancy default_redundancy() const = 0;
  // Rebuilds this node's copies and fragments that failed their checks (scrub)
  // from the other nodes.
  virtual Status heal(const std::vector<ChunkId>& damaged) = 0;
  // Whether the cluster has the nodes to keep chunks as `form` says.
  virtual Status can_place(const Redundancy& form) const = 0;
  // What every node derives the same first master key epoch from.
  virtual std::string master_seed() const = 0;
};

}  // namespace kiseki::gateway
