#include "chunk/chunk_store.h"

namespace kiseki::chunk {

ChunkStore::ChunkStore(meta::Store* meta, SegmentStore* segments, const crypto::KeyManager* keys)
    : meta_(meta), segments_(segments), cipher_(keys) {
  auto& m = MetricsRegistry::global();
  dedup_hits_ = m.counter("kiseki_chunk_dedup_hits_total", "Chunk writes answered by an existing chunk");
  dedup_misses_ = m.counter("kiseki_chunk_dedup_misses_total", "Chunk writes that stored a new chunk");
  bytes_sealed_ = m.counter("kiseki_crypto_bytes_sealed_total", "Plaintext bytes sealed with AES-256-GCM");
  bytes_opened_ = m.counter("kiseki_crypto_bytes_opened_total", "Plaintext bytes opened with AES-256-GCM");
}

Result<PreparedChunk> ChunkStore::prepare(const ChunkId& id, ByteSpan plaintext, bool force_write) {
  PreparedChunk p{id, static_cast<uint32_t>(plaintext.size()), std::nullopt};
  if (!force_write) {
    std::string v;
    if (meta_->get(meta::Cf::kChunks, id.view(), &v).is_ok()) {
      dedup_hits_->inc();
      return p;
    }
  }
  dedup_misses_->inc();
  thread_local Bytes sealed;
  sealed.resize(plaintext.size() + crypto::kSealOverhead);
  KISEKI_TRY(cipher_.seal(id, plaintext, sealed.data()));
  bytes_sealed_->inc(plaintext.size());
  KISEKI_ASSIGN_OR_RETURN(p.written, segments_->append(id, sealed));
  return p;
}

Status ChunkStore::sync(const std::vector<PreparedChunk>& chunks) {
  // Records are appended in order, so syncing the last one of each segment covers
  // the rest of that segment.
  std::map<SegmentId, Location> last;
  for (const auto& c : chunks)
    if (c.written) {
      auto& l = last[c.written->segment];
      if (c.written->offset >= l.offset) l = *c.written;
    }
  for (const auto& [seg, loc] : last) KISEKI_TRY(segments_->sync(loc));
  return Status::ok();
}

Status ChunkStore::read(const ChunkId& id, Bytes* out) const {
  KISEKI_ASSIGN_OR_RETURN(IndexEntry e, lookup(*meta_, id));
  thread_local Bytes sealed;
  KISEKI_TRY(segments_->read(id, e.loc, &sealed));
  if (sealed.size() < crypto::kSealOverhead) return corruption("sealed chunk too short");
  out->resize(sealed.size() - crypto::kSealOverhead);
  KISEKI_TRY(cipher_.open(id, sealed, out->data()));
  bytes_opened_->inc(out->size());
  return Status::ok();
}

ScrubReport ChunkStore::scrub() const {
  ScrubReport report = segments_->scrub();
  auto it = meta_->iterator(meta::Cf::kChunks);
  Bytes plain;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ChunkId id;
    IndexEntry e;
    if (!ChunkId::from_view(it->key().ToStringView(), &id) || !decode_entry(it->value().ToStringView(), &e)) {
      report.problems.push_back("malformed chunk index entry");
      continue;
    }
    Status st = read(id, &plain);
    if (!st.is_ok()) report.problems.push_back("chunk " + id.hex() + ": " + st.to_string());
  }
  return report;
}

}  // namespace kiseki::chunk
