// Gateway::check_references: recounts every chunk reference from the layouts and
// multipart parts and compares the counts with the replicated reference counts
// and with the chunks this node holds; scrub's check that every layout's chunks
// are here.
#include <map>
#include <set>

#include "chunk/refs.h"
#include "gateway/local_gateway.h"
#include "meta/schema.h"

namespace kiseki::gateway {

using meta::Cf;

const Result<crypto::SecretKey>& LocalGateway::namespace_key(NamespaceId ns, KeyCache* keys) const {
  auto it = keys->find(ns);
  if (it != keys->end()) return it->second;
  auto info = get_namespace(ns);
  auto k = info ? tenant_key(info->ref.tenant) : Result<crypto::SecretKey>(info.status());
  return keys->emplace(ns, std::move(k)).first->second;
}

// The tenants whose layouts cannot be read (their key is gone) until the purge
// deletes them: their dedup domains' counts are not checked meanwhile.
std::set<DomainId> LocalGateway::domains_awaiting_purge() const {
  std::set<DomainId> out;
  for (const auto& t : list_tenants())
    if (t.shredded) out.insert(t.shared_dedup ? kSharedDomain : DomainId{t.id});
  return out;
}

Status LocalGateway::for_each_layout(meta::Store* store, bool awaiting_purge, std::vector<std::string>* problems,
                                     const LayoutVisitor& visit) const {
  KeyCache keys;
  auto it = store->iterator(Cf::kInodes);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 16) {
      problems->push_back("malformed inode key");
      continue;
    }
    NamespaceId ns = get_be64(reinterpret_cast<const uint8_t*>(it->key().data()));
    ns::Inode i;
    // A bad record is named and passed: the scan goes on to the others.
    if (Status st = ns::decode_inode(it->value().ToStringView(), &i); !st) {
      problems->push_back("inode record of namespace " + std::to_string(ns) + ": " + st.to_string());
      continue;
    }
    Content c;
    if (i.has_object() && !i.content.empty()) {
      const auto& kek = namespace_key(ns, &keys);
      if (!kek) {
        if (!awaiting_purge)
          problems->push_back("inode " + std::to_string(i.ino) + " of namespace " + std::to_string(ns) + ": " +
                              kek.status().to_string());
        continue;
      }
      if (Status st = open_content(*kek, ns, i.content, &c); !st) {
        problems->push_back("layout of inode " + std::to_string(i.ino) + ": " + st.to_string());
        continue;
      }
    }
    visit(it->key().ToStringView(), it->value().ToStringView(), i, c.extents);
  }
  return meta::from_rocks(it->status(), "scan inodes");
}

Result<ReferenceReport> LocalGateway::check_references() const {
  ReferenceReport r;
  std::map<ChunkId, uint64_t> counted;
  std::set<DomainId> awaiting_purge = domains_awaiting_purge();
  auto unaccountable = [&](const ChunkId& id) { return awaiting_purge.count(domain_of(id)) > 0; };
  // Counts are per shard (ADR 0006, 0009): each shard's layouts against its own counts.
  for (meta::Store* store : stores()) {
    counted.clear();
    auto count = [&](const std::vector<Extent>& extents) {
      for (const auto& x : extents) {
        ++counted[x.chunk];
        ++r.chunk_refs;
      }
    };
    KISEKI_TRY(for_each_layout(store, !awaiting_purge.empty(), &r.problems,
                               [&](std::string_view, std::string_view, const ns::Inode&,
                                   const std::vector<Extent>& extents) {
                                 ++r.inodes;
                                 count(extents);
                               }));
    KeyCache keys;
    auto parts = store->iterator(Cf::kMultipart);
    for (parts->SeekToFirst(); parts->Valid(); parts->Next()) {
      if (parts->key().size() < 8) continue;
      NamespaceId ns = get_be64(reinterpret_cast<const uint8_t*>(parts->key().data()));
      const auto& kek = namespace_key(ns, &keys);
      if (!kek) continue;
      std::vector<Extent> extents;
      if (Status st = multipart_part_extents(*kek, ns, parts->key().ToStringView(), parts->value().ToStringView(),
                                             &extents);
          !st) {
        r.problems.push_back("upload part record: " + st.to_string());
        continue;
      }
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
      if (n != want && !unaccountable(id))
        r.problems.push_back("chunk " + id.hex() + ": reference count " + std::to_string(n) +
                             ", layouts hold " + std::to_string(want));
      if (c != counted.end()) counted.erase(c);
      // A node of a cluster holds only what placement gives it.
      if (!opts_.replication && !chunks_->locate(id))
        r.problems.push_back("chunk " + id.hex() + " is referenced but has no bytes here");
    }
    KISEKI_TRY(meta::from_rocks(refs->status(), "scan chunk references"));
    for (const auto& [id, n] : counted)
      if (!unaccountable(id))
        r.problems.push_back("chunk " + id.hex() + ": layouts hold " + std::to_string(n) + " references, count is 0");
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

// Every layout's chunks are held here (a single node), re-read before it is
// named: a layout changed by a write meanwhile is not damage.
void LocalGateway::check_layouts(std::vector<std::string>* problems) const {
  bool awaiting_purge = !domains_awaiting_purge().empty();
  for (meta::Store* store : stores()) {
    Status st = for_each_layout(store, awaiting_purge, problems,
                                [&](std::string_view key, std::string_view value, const ns::Inode& i,
                                    const std::vector<Extent>& extents) {
                                  for (const auto& x : extents) {
                                    if (chunks_->locate(x.chunk).is_ok()) continue;
                                    std::string now;
                                    if (!store->get(Cf::kInodes, key, &now).is_ok() || now != value) return;
                                    problems->push_back("inode " + std::to_string(i.ino) + ": chunk " +
                                                        x.chunk.hex() + " of its layout has no bytes here");
                                  }
                                });
    if (!st) problems->push_back(st.to_string());
  }
}

}  // namespace kiseki::gateway
