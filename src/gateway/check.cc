// Gateway::check_references: recounts every chunk reference from the layouts and
// multipart parts and compares the counts with the replicated reference counts
// and with the chunks this node holds.
#include <map>

#include "chunk/refs.h"
#include "gateway/local_gateway.h"
#include "meta/schema.h"

namespace kiseki::gateway {

using meta::Cf;

Result<ReferenceReport> LocalGateway::check_references() const {
  ReferenceReport r;
  std::map<ChunkId, uint64_t> counted;
  std::map<NamespaceId, Result<crypto::SecretKey>> keys;
  auto kek_of = [&](NamespaceId ns) -> const Result<crypto::SecretKey>& {
    auto it = keys.find(ns);
    if (it != keys.end()) return it->second;
    auto info = get_namespace(ns);
    auto k = info ? tenant_key(info->ref.tenant) : Result<crypto::SecretKey>(info.status());
    return keys.emplace(ns, std::move(k)).first->second;
  };
  // Counts are per shard (ADR 0006, 0009): each shard's layouts against its own counts.
  for (meta::Store* store : stores()) {
    counted.clear();
    auto count = [&](const std::vector<Extent>& extents) {
      for (const auto& x : extents) {
        ++counted[x.chunk];
        ++r.chunk_refs;
      }
    };

    auto it = store->iterator(Cf::kInodes);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++r.inodes;
      if (it->key().size() != 16) {
        r.problems.push_back("malformed inode key");
        continue;
      }
      NamespaceId ns = get_be64(reinterpret_cast<const uint8_t*>(it->key().data()));
      ns::Inode i;
      KISEKI_TRY(ns::decode_inode(it->value().ToStringView(), &i));
      if (i.type != FileType::kFile || i.content.empty()) continue;
      const auto& kek = kek_of(ns);
      if (!kek) {
        r.problems.push_back("inode " + std::to_string(i.ino) + ": " + kek.status().to_string());
        continue;
      }
      Content c;
      KISEKI_TRY(open_content(*kek, ns, i.content, &c));
      count(c.extents);
    }
    KISEKI_TRY(meta::from_rocks(it->status(), "scan inodes"));

    auto parts = store->iterator(Cf::kMultipart);
    for (parts->SeekToFirst(); parts->Valid(); parts->Next()) {
      if (parts->key().size() < 8) continue;
      NamespaceId ns = get_be64(reinterpret_cast<const uint8_t*>(parts->key().data()));
      const auto& kek = kek_of(ns);
      if (!kek) continue;
      std::vector<Extent> extents;
      KISEKI_TRY(multipart_part_extents(*kek, ns, parts->key().ToStringView(),
                                        parts->value().ToStringView(), &extents));
      count(extents);
    }
    KISEKI_TRY(meta::from_rocks(parts->status(), "scan uploads"));

    auto refs = store->iterator(Cf::kChunkRefs);
    for (refs->SeekToFirst(); refs->Valid(); refs->Next()) {
      if (chunk::is_ledger_key(refs->key().ToStringView())) continue;
      ChunkId id;
      if (!ChunkId::from_view(refs->key().ToStringView(), &id) || (refs->value().size() != 8 && refs->value().size() != 11)) {
        r.problems.push_back("malformed chunk reference entry");
        continue;
      }
      ++r.chunks;
      uint64_t n = get_be64(reinterpret_cast<const uint8_t*>(refs->value().data()));
      auto c = counted.find(id);
      uint64_t want = c == counted.end() ? 0 : c->second;
      if (n != want)
        r.problems.push_back("chunk " + id.hex() + ": reference count " + std::to_string(n) +
                             ", layouts hold " + std::to_string(want));
      if (c != counted.end()) counted.erase(c);
      // A node of a cluster holds only what placement gives it.
      if (!opts_.replication && !chunks_->locate(id))
        r.problems.push_back("chunk " + id.hex() + " is referenced but has no bytes here");
    }
    KISEKI_TRY(meta::from_rocks(refs->status(), "scan chunk references"));
    for (const auto& [id, n] : counted)
      r.problems.push_back("chunk " + id.hex() + ": layouts hold " + std::to_string(n) +
                           " references, count is 0");
  }
  auto locs = meta_->iterator(Cf::kChunkLocs);
  for (locs->SeekToFirst(); locs->Valid(); locs->Next()) {
    ChunkId id;
    ChunkId::from_view(locs->key().ToStringView(), &id);
    if (chunks_->locate(id).code() == ErrorCode::kNotFound) continue;  // collected, not yet written
    ++r.located;
    bool referenced = false;
    for (meta::Store* store : stores()) {
      std::string v;
      referenced |= store->get(Cf::kChunkRefs, chunk_of(id).view(), &v).is_ok();  // a fragment: its chunk's
    }
    if (!referenced)
      r.problems.push_back("chunk " + id.hex() +
                           " has bytes here but no reference (garbage left behind)");
  }
  KISEKI_TRY(meta::from_rocks(locs->status(), "scan chunk locations"));
  return r;
}

}  // namespace kiseki::gateway
