// The segment files of one node: appends with group commit, reads with CRC and
// id checks, recovery of torn tails, scrubbing. Knows nothing of refcounts: the
// chunk index (index.h) in the metadata store says which records are live.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chunk/segment.h"
#include "common/durability.h"
#include "common/env.h"
#include "common/metrics.h"

namespace kiseki::chunk {

struct SegmentStoreOptions {
  uint64_t segment_bytes = 256ull << 20;  // roll to a new segment past this size
  // kNone skips every fdatasync; otherwise sync(), sync_to() and sync_all()
  // sync and segment rolls sync the old segment. Who calls them, when, is the
  // Gateway's business (write order: a record's chunks are durable before the
  // WAL sync that makes the record durable).
  Durability durability = Durability::kSync;
  const Env* env = &Env::posix();  // reads, appends and syncs ask it first
  // Appends are refused (kNoSpace) once the file system would have less than
  // this free: what is left takes the metadata writes of deletes and the
  // copies of compaction, so that deleting frees space on a full disk. 0: no check.
  uint64_t reserve_bytes = 0;
};

// A point in the stream of appends: everything appended to `segment` before
// byte `end` (and everything in older segments).
struct AppendMark {
  SegmentId segment = 0;
  uint64_t end = 0;
};

struct ScrubReport {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
  std::vector<std::string> problems;  // one line per corrupt or unreadable region
  std::vector<ChunkId> damaged;       // located chunks and fragments that failed their checks (ChunkStore)
  std::vector<std::string> repaired;  // of them, rebuilt from other nodes (a cluster)
};

class SegmentStore {
 public:
  static Result<std::unique_ptr<SegmentStore>> open(const std::string& dir,
                                                    const SegmentStoreOptions& opts);
  ~SegmentStore();

  // Appends a record. Not durable until sync() covers it. `use_reserve`:
  // compaction's copies, which may go into the reserved space.
  Result<Location> append(const ChunkId& id, ByteSpan sealed, bool use_reserve = false);
  // Seals the active segment (synced unless the mode is kNone) and starts a
  // new one, so that compaction may take the old one.
  Status roll();
  // The last free-space check found less than twice the reserve free.
  bool space_low() const { return space_low_.load(std::memory_order_relaxed); }
  // Looks at the free space again now (after compaction freed some).
  void recheck_space();
  // Makes every record up to `loc` durable (unless the mode is kNone). Concurrent
  // callers share one fdatasync (group commit).
  Status sync(const Location& loc) { return sync_to({loc.segment, loc.offset + loc.record_size()}); }
  // Where the appends have got to now; sync_to(mark()) covers every record
  // appended before the call.
  AppendMark mark() const;
  Status sync_to(const AppendMark& mark);
  // Makes everything appended so far durable (unless the mode is kNone and
  // `force` is false: an explicit fsync forces it in every mode).
  Status sync_all(bool force = false);
  // Reads and verifies the record at `loc` into `sealed`.
  Status read(const ChunkId& id, const Location& loc, Bytes* sealed) const;

  std::vector<SegmentId> segments() const;
  SegmentId active_segment() const;
  uint64_t segment_size(SegmentId id) const;
  // Visits every valid record of a sealed (non-active) segment.
  Status scan(SegmentId id, const std::function<void(const ScannedRecord&)>& visit) const;
  // Removes a segment file that holds no live records. Never the active one.
  Status remove(SegmentId id);
  // Reads every record of every segment and checks it.
  ScrubReport scrub() const;
  const std::string& dir() const { return dir_; }
  // The failed fdatasync that stopped every later sync; ok while none.
  Status fault() const;

 private:
  struct Segment {
    SegmentId id;
    std::string path;
    int fd = -1;
    uint64_t size = 0;      // bytes written (guarded by mu_)
    uint64_t durable = 0;   // bytes known durable (guarded by mu_)
    ~Segment();
  };
  SegmentStore(std::string dir, const SegmentStoreOptions& opts) : dir_(std::move(dir)), opts_(opts) {}
  Status recover();
  Status open_new_segment_locked(SegmentId id);
  Status roll_locked();
  Status check_space_locked(uint64_t bytes);
  Result<uint64_t> headroom_locked();
  Status sync_through(const AppendMark& mark);  // whatever the mode
  Status sync_rolled();
  std::shared_ptr<Segment> find(SegmentId id) const;

  std::string dir_;
  SegmentStoreOptions opts_;
  mutable std::mutex mu_;  // guards segments_, active_, sizes, syncing_, sync_fault_ (one fdatasync at a time)
  std::condition_variable synced_cv_;
  bool syncing_ = false;
  Status sync_fault_;  // a failed fdatasync: every later sync fails
  bool dir_unsynced_ = false;  // kNone: a segment made since the directory's last sync
  uint64_t space_budget_ = 0;  // bytes that may be appended before free space is looked at again
  std::atomic<bool> space_low_{false};
  std::map<SegmentId, std::shared_ptr<Segment>> segments_;
  std::shared_ptr<Segment> active_;

  Counter* bytes_appended_;
  Counter* fsyncs_;
  Histogram* fsync_seconds_;
};

}  // namespace kiseki::chunk
