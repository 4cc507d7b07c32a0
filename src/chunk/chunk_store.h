// The chunk store of one node: dedup probe, sealing, segment append and group
// commit on the write side; index lookup, verified read and open on the read side.
// Reference counts change only through deltas (index.h apply functions).
#pragma once

#include <memory>
#include <optional>

#include "chunk/index.h"
#include "chunk/segment_store.h"
#include "crypto/chunk_cipher.h"
#include "meta/store.h"

namespace kiseki::chunk {

// A chunk made ready for a delta to reference: `written` is set if this call
// stored a new copy (a dedup miss).
struct PreparedChunk {
  ChunkId id;
  uint32_t length = 0;  // plaintext bytes
  std::optional<Location> written;
};

class ChunkStore {
 public:
  ChunkStore(meta::Store* meta, SegmentStore* segments, const crypto::KeyManager* keys);

  // Dedup is decided before sealing: a hit costs one index probe and no crypto.
  // `force_write` skips the probe (retry after kConflict from apply_ref).
  Result<PreparedChunk> prepare(const ChunkId& id, ByteSpan plaintext, bool force_write = false);
  // Makes every written chunk durable before the delta that references it commits.
  Status sync(const std::vector<PreparedChunk>& chunks);
  // Reads, verifies and opens a chunk into `out` (resized to its plaintext size).
  Status read(const ChunkId& id, Bytes* out) const;

  // Checks every index entry against its record (CRC, id, AEAD tag) plus every
  // segment's record chain. Problems name the chunk or segment.
  ScrubReport scrub() const;

  SegmentStore* segments() const { return segments_; }
  meta::Store* meta() const { return meta_; }

 private:
  meta::Store* meta_;
  SegmentStore* segments_;
  crypto::ChunkCipher cipher_;
  Counter* dedup_hits_;
  Counter* dedup_misses_;
  Counter* bytes_sealed_;
  Counter* bytes_opened_;
};

}  // namespace kiseki::chunk
