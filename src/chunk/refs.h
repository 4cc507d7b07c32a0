// Chunk reference counts: replicated state. Only apply code (run under the log's
// apply order, the same on every replica) changes them, so read-modify-write
// needs no further locking. Where a chunk's bytes sit on a node is not here: that
// is the node's own LocationTable (location_table.h).
#pragma once

#include <optional>

#include "common/redundancy.h"
#include "meta/store.h"
#include "meta/txn.h"

namespace kiseki::chunk {

// References to shared-domain chunks are also counted per tenant that holds them
// (the ledger, under key prefix 0xff × 8 in chunk_refs, apart from the 32-byte
// chunk keys), so purging a shredded tenant can drop its shared references
// without opening its layouts. `owner` is that tenant; it is ignored for
// chunks of a tenant's own domain.
std::string ledger_prefix(TenantId owner);
bool is_ledger_key(std::string_view key);

// Committed reference count; 0 if the chunk is unreferenced.
Result<uint64_t> ref_count(const meta::Store& store, const ChunkId& id);

// Adds a reference. `fresh`: the submitter holds the chunk's bytes on this node
// (it stored or pinned them before submitting), so a count may start from zero.
// Otherwise the chunk must already be referenced: kConflict if it is not (its
// last reference went since the caller read the layout it copies from).
// `form`: a cluster's redundancy of the chunk, recorded by the reference that
// brings the count up from zero (later ones keep the first's).
Status apply_ref(meta::Txn& txn, const ChunkId& id, bool fresh, TenantId owner,
                 std::optional<Redundancy> form = std::nullopt);
// The redundancy the chunk's count records (none: a single node's chunk, or
// one written before policies existed: the cluster's default replicas).
Result<std::optional<Redundancy>> ref_form(const meta::Store& store, const ChunkId& id);
// The same from a kChunkRefs value.
Result<std::optional<Redundancy>> decode_ref_form(std::string_view value);
// Drops a reference; at zero the count goes and the chunk becomes garbage for
// the node-local collector. kCorruption for a chunk with no references.
Status apply_unref(meta::Txn& txn, const ChunkId& id, TenantId owner);
// Drops up to `limit` of `owner`'s ledger entries and the references they
// count; returns how many entries went.
Result<uint64_t> apply_purge_ledger(meta::Txn& txn, TenantId owner, uint64_t limit);

}  // namespace kiseki::chunk
