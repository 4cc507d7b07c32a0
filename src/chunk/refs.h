// Chunk reference counts: replicated state. Only apply code (run under the log's
// apply order, the same on every replica) changes them, so read-modify-write
// needs no further locking. Where a chunk's bytes sit on a node is not here: that
// is the node's own LocationTable (location_table.h).
#pragma once

#include "meta/store.h"
#include "meta/txn.h"

namespace kiseki::chunk {

// Committed reference count; 0 if the chunk is unreferenced.
Result<uint64_t> ref_count(const meta::Store& store, const ChunkId& id);

// Adds a reference. `fresh`: the submitter holds the chunk's bytes on this node
// (it stored or pinned them before submitting), so a count may start from zero.
// Otherwise the chunk must already be referenced: kConflict if it is not (its
// last reference went since the caller read the layout it copies from).
Status apply_ref(meta::Txn& txn, const ChunkId& id, bool fresh);
// Drops a reference; at zero the count goes and the chunk becomes garbage for
// the node-local collector. kCorruption for a chunk with no references.
Status apply_unref(meta::Txn& txn, const ChunkId& id);

}  // namespace kiseki::chunk
