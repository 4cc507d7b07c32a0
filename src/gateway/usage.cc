// Gateway::usage: what the tenants hold, read by scanning the metadata (the
// admin API's usage report).
#include <map>
#include <set>

#include "gateway/local_gateway.h"
#include "meta/schema.h"

namespace kiseki::gateway {

using meta::Cf;

Result<UsageReport> LocalGateway::usage() const {
  struct Acc {
    UsageCounts c;
    std::set<ChunkId> seen;
  };
  std::map<NamespaceId, Acc> by_ns;
  std::map<TenantId, Acc> by_tenant;
  Acc total;
  std::map<NamespaceId, NamespaceInfo> ns_info;
  std::map<NamespaceId, Result<crypto::SecretKey>> keys;
  UsageReport r;
  for (const auto& t : list_tenants()) {
    if (t.shredded) continue;
    by_tenant[t.id];
    for (const auto& n : list_namespaces(t.id)) {
      ns_info[n.ref.ns] = n;
      by_ns[n.ref.ns];
      keys.emplace(n.ref.ns, tenant_key(t.id));
    }
  }
  auto add_chunk = [this](Acc& a, const ChunkId& id) {
    if (!a.seen.insert(id).second) return;
    ++a.c.chunks;
    if (auto loc = chunks_->locate(id)) a.c.chunk_bytes += loc->length;
  };

  for (meta::Store* store : stores()) {
    auto it = store->iterator(Cf::kInodes);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() != 16) continue;
      NamespaceId ns = get_be64(reinterpret_cast<const uint8_t*>(it->key().data()));
      auto info = ns_info.find(ns);
      if (info == ns_info.end()) continue;  // a namespace being purged
      ns::Inode i;
      KISEKI_TRY(ns::decode_inode(it->value().ToStringView(), &i));
      Acc* accs[] = {&by_ns[ns], &by_tenant[info->second.ref.tenant], &total};
      if (i.type == FileType::kDirectory) {
        if (i.ino == ns::kRootInode) continue;  // the namespace itself
        for (Acc* a : accs) ++a->c.dirs;
        if (!i.carries_object()) continue;  // one that does counts as an object too (ADR 0013)
      } else if (i.type != FileType::kFile) {
        continue;
      }
      bool version = i.parent == ns::kVersionsInode;
      for (Acc* a : accs) {
        ++(version ? a->c.versions : a->c.files);
        (version ? a->c.version_bytes : a->c.logical_bytes) += i.size;
      }
      if (i.content.empty()) continue;
      const auto& kek = keys.at(ns);
      if (!kek) return kek.status();
      Content c;
      KISEKI_TRY(open_content(*kek, ns, i.content, &c));
      for (Acc* a : accs) {
        if (!c.inline_data.empty()) {
          ++a->c.inline_files;
          a->c.inline_bytes += c.inline_data.size();
        }
        for (const auto& x : c.extents) add_chunk(*a, x.chunk);
      }
    }
    KISEKI_TRY(meta::from_rocks(it->status(), "scan inodes"));
  }

  for (auto& [id, a] : by_tenant) r.tenants.push_back({*get_tenant(id), a.c});
  for (auto& [id, a] : by_ns) r.namespaces.push_back({ns_info[id], a.c});
  r.total = total.c;
  return r;
}

}  // namespace kiseki::gateway
