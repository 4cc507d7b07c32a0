// The chunk index in the metadata store: chunk id → (location, refcount), and
// per-segment live bytes. Only apply code (run under the log's apply order)
// changes it, so read-modify-write of refcounts needs no further locking.
#pragma once

#include <optional>

#include "chunk/segment.h"
#include "meta/store.h"
#include "meta/txn.h"

namespace kiseki::chunk {

struct IndexEntry {
  Location loc;
  uint64_t refs = 0;
};

std::string encode_entry(const IndexEntry& e);
bool decode_entry(std::string_view v, IndexEntry* e);

// Reads the committed entry; kNotFound if the chunk is not stored.
Result<IndexEntry> lookup(const meta::Store& store, const ChunkId& id);

// Adds a reference. With `written`, the caller stored a copy at that location: it
// becomes the chunk's location if the chunk is new, and is dead space otherwise.
// Without it, the chunk must already exist: kConflict if it does not (it was
// removed since the caller's dedup probe), and the caller writes it and retries.
Status apply_ref(meta::Txn& txn, const ChunkId& id, const std::optional<Location>& written);
// Drops a reference; at zero the entry goes and its bytes count as dead.
Status apply_unref(meta::Txn& txn, const ChunkId& id);
// Moves a chunk after compaction copied it, if it still lives at `from`.
Status apply_move(meta::Txn& txn, const ChunkId& id, const Location& from, const Location& to);

// Live bytes of a segment (records that the index points at).
uint64_t segment_live_bytes(const meta::Store& store, SegmentId seg);

}  // namespace kiseki::chunk
