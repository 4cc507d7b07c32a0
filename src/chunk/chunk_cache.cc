#include "chunk/chunk_cache.h"

namespace kiseki::chunk {

ChunkCache::ChunkCache(size_t capacity_bytes) : shards_(16) {
  shard_capacity_ = capacity_bytes / shards_.size();
  auto& m = MetricsRegistry::global();
  hits_ = m.counter("kiseki_chunk_cache_hits_total", "Chunk reads served by the cache of opened chunks");
  misses_ = m.counter("kiseki_chunk_cache_misses_total", "Chunk reads that went to disk (cache on, chunk not in it)");
  bytes_gauge_ = m.gauge("kiseki_chunk_cache_bytes", "Plaintext bytes held by the cache of opened chunks");
}

std::shared_ptr<const OpenedChunk> ChunkCache::get(const ChunkId& id) {
  if (shard_capacity_ == 0) return nullptr;
  Shard& s = shard(id);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    misses_->inc();
    return nullptr;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second.pos);
  hits_->inc();
  return it->second.chunk;
}

void ChunkCache::put(const ChunkId& id, std::shared_ptr<const OpenedChunk> chunk) {
  size_t n = chunk->bytes.size();
  if (n == 0 || n > shard_capacity_ / 4) return;
  Shard& s = shard(id);
  std::scoped_lock lock(dead_mu_, s.mu);
  if (dead_.count(domain_of(id))) return;
  if (s.map.count(id)) return;
  s.lru.push_front(id);
  s.map.emplace(id, Shard::Entry{std::move(chunk), s.lru.begin()});
  s.bytes += n;
  bytes_gauge_->add(static_cast<int64_t>(n));
  while (s.bytes > shard_capacity_) erase_locked(s, s.map.find(s.lru.back()));
}

void ChunkCache::erase_locked(Shard& s, std::unordered_map<ChunkId, Shard::Entry, ChunkIdHash>::iterator it) {
  size_t n = it->second.chunk->bytes.size();
  s.bytes -= n;
  bytes_gauge_->add(-static_cast<int64_t>(n));
  s.lru.erase(it->second.pos);
  s.map.erase(it);  // zeroed once no reader holds it
}

void ChunkCache::clear_domain(DomainId domain, bool forever) {
  if (forever) {
    std::lock_guard lock(dead_mu_);
    dead_.insert(domain);
  }
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    for (auto it = s.map.begin(); it != s.map.end();) {
      auto next = std::next(it);
      if (domain_of(it->first) == domain) erase_locked(s, it);
      it = next;
    }
  }
}

size_t ChunkCache::bytes() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.bytes;
  }
  return n;
}

}  // namespace kiseki::chunk
