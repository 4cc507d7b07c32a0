#include "chunk/segment_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/file_util.h"
#include "common/logging.h"
#include "common/kill_point.h"

namespace kiseki::chunk {

SegmentStore::Segment::~Segment() {
  if (fd >= 0) ::close(fd);
}

Result<std::unique_ptr<SegmentStore>> SegmentStore::open(const std::string& dir,
                                                         const SegmentStoreOptions& opts) {
  KISEKI_TRY(make_dirs(dir));
  std::unique_ptr<SegmentStore> s(new SegmentStore(dir, opts));
  auto& m = MetricsRegistry::global();
  s->bytes_appended_ = m.counter("kiseki_chunk_segment_bytes_appended_total", "Bytes appended to segment files");
  s->fsyncs_ = m.counter("kiseki_chunk_segment_fsyncs_total", "fdatasync calls on segment files");
  s->fsync_seconds_ = m.histogram("kiseki_chunk_segment_fsync_seconds", "Latency of segment fdatasync");
  KISEKI_TRY(s->recover());
  return s;
}

SegmentStore::~SegmentStore() {
  if (active_ && opts_.durability != Durability::kNone) ::fdatasync(active_->fd);
}

Status SegmentStore::recover() {
  std::vector<SegmentId> ids;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    SegmentId id;
    if (parse_segment_file_name(e.path().filename().string(), &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  std::lock_guard lock(mu_);
  for (SegmentId id : ids) {
    auto seg = std::make_shared<Segment>();
    seg->id = id;
    seg->path = dir_ + "/" + segment_file_name(id);
    const std::string& path = seg->path;
    KISEKI_ASSIGN_OR_RETURN(seg->fd, opts_.env->open(path, O_RDWR));
    struct stat st;
    if (::fstat(seg->fd, &st) != 0) return errno_status("stat " + path, errno);
    seg->size = seg->durable = static_cast<uint64_t>(st.st_size);
    segments_[id] = seg;
  }
  if (segments_.empty()) return open_new_segment_locked(1);
  // Only the newest segment can have a torn tail: older ones were synced before
  // the roll. Cut it back to its last whole record.
  active_ = segments_.rbegin()->second;
  KISEKI_ASSIGN_OR_RETURN(uint64_t valid, scan_segment(active_->fd, active_->id, active_->size,
                                                       [](const ScannedRecord&) {}));
  if (valid != active_->size && valid_record_after(active_->fd, valid, active_->size)) {
    // Damage in the middle with whole records after it: corruption, not a torn
    // write. Keep every byte; reads of the damaged record fail its checks, the
    // scrubber reports it, and new records go after the end.
    KLOG_ERROR("chunk segment {}: invalid record at offset {} followed by valid records; kept as is",
               active_->id, valid);
  } else if (valid != active_->size) {
    KLOG_WARN("chunk segment {} recovery: cut torn tail {} -> {} bytes", active_->id, active_->size, valid);
    if (::ftruncate(active_->fd, static_cast<off_t>(valid)) != 0) return errno_status("ftruncate", errno);
    ::fdatasync(active_->fd);
    active_->size = active_->durable = valid;
  }
  return Status::ok();
}

Status SegmentStore::open_new_segment_locked(SegmentId id) {
  auto seg = std::make_shared<Segment>();
  seg->id = id;
  seg->path = dir_ + "/" + segment_file_name(id);
  KISEKI_ASSIGN_OR_RETURN(seg->fd, opts_.env->open(seg->path, O_RDWR | O_CREAT | O_EXCL, 0600));
  KISEKI_KILL_POINT("segment.after_create");
  if (opts_.durability != Durability::kNone) KISEKI_TRY(fsync_dir(dir_, *opts_.env));
  else dir_unsynced_ = true;
  segments_[id] = seg;
  active_ = seg;
  return Status::ok();
}

Status SegmentStore::roll_locked() {
  // The old segment is made durable first, so recovery only ever has to look
  // at the newest segment's tail.
  if (opts_.durability != Durability::kNone) {
    if (!sync_fault_.is_ok()) return sync_fault_;
    Status st = opts_.env->fdatasync(active_->fd, active_->path);
    if (!st.is_ok()) return sync_fault_ = st;
    active_->durable = active_->size;
  }
  KISEKI_KILL_POINT("segment.roll.after_sync");
  return open_new_segment_locked(active_->id + 1);
}

Status SegmentStore::roll() {
  std::lock_guard lock(mu_);
  if (active_->size == 0) return Status::ok();
  return roll_locked();
}

// The bytes free beyond the reserve; notes whether space is low.
Result<uint64_t> SegmentStore::headroom_locked() {
  KISEKI_ASSIGN_OR_RETURN(uint64_t free, opts_.env->free_bytes(dir_));
  uint64_t headroom = free > opts_.reserve_bytes ? free - opts_.reserve_bytes : 0;
  space_low_.store(headroom < opts_.reserve_bytes, std::memory_order_relaxed);
  return headroom;
}

// Looks at the free space only after half of the headroom the last look found
// has been appended (every append once the disk is nearly full).
Status SegmentStore::check_space_locked(uint64_t bytes) {
  if (space_budget_ < bytes) {
    KISEKI_ASSIGN_OR_RETURN(uint64_t headroom, headroom_locked());
    if (headroom < bytes)
      return make_error(ErrorCode::kNoSpace, "the data disk is full: less than " +
                                                 std::to_string(opts_.reserve_bytes + bytes) + " bytes free, " +
                                                 std::to_string(opts_.reserve_bytes) +
                                                 " kept for deletes and compaction");
    space_budget_ = bytes + (headroom - bytes) / 2;
  }
  space_budget_ -= bytes;
  return Status::ok();
}

void SegmentStore::recheck_space() {
  std::lock_guard lock(mu_);
  space_budget_ = 0;
  if (opts_.reserve_bytes > 0) (void)headroom_locked();
}

Result<Location> SegmentStore::append(const ChunkId& id, ByteSpan sealed, bool use_reserve) {
  if (sealed.size() > kMaxRecordPayload) return invalid_argument("chunk larger than a record may be");
  uint8_t header[kRecordHeaderSize];
  encode_record_header(id, sealed, header);
  std::unique_lock lock(mu_);
  if (opts_.reserve_bytes > 0 && !use_reserve) KISEKI_TRY(check_space_locked(kRecordHeaderSize + sealed.size()));
  if (active_->size + kRecordHeaderSize + sealed.size() > opts_.segment_bytes && active_->size > 0)
    KISEKI_TRY(roll_locked());
  Segment& seg = *active_;
  // The write happens under the lock so that `size` only ever covers completed
  // writes: a group commit leader may then mark all of it durable.
  iovec iov[2] = {{header, sizeof(header)}, {const_cast<uint8_t*>(sealed.data()), sealed.size()}};
  size_t total = sizeof(header) + sealed.size();
  auto n = opts_.env->pwritev(seg.fd, seg.path, iov, 2, seg.size);
  if (!n || *n != total) {
    // Leave no partial record behind for the next append to follow.
    if (::ftruncate(seg.fd, static_cast<off_t>(seg.size)) != 0) {}
    return n ? errno_status("append to segment", ENOSPC) : n.status();
  }
  Location loc{seg.id, seg.size, static_cast<uint32_t>(sealed.size())};
  seg.size += total;
  bytes_appended_->inc(total);
  KISEKI_KILL_POINT("segment.after_append");
  return loc;
}

AppendMark SegmentStore::mark() const {
  std::lock_guard lock(mu_);
  return {active_->id, active_->size};
}

Status SegmentStore::sync_to(const AppendMark& mark) {
  if (opts_.durability == Durability::kNone) return Status::ok();
  return sync_through(mark);
}

Status SegmentStore::sync_all(bool force) {
  if (opts_.durability == Durability::kNone && !force) return Status::ok();
  return sync_through(mark());
}

// Under kNone a roll syncs neither the old segment nor the new one's directory
// entry: a forced sync catches up on both first.
Status SegmentStore::sync_rolled() {
  std::vector<std::pair<std::shared_ptr<Segment>, uint64_t>> behind;
  bool dir = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, seg] : segments_)
      if (seg != active_ && seg->durable < seg->size) behind.emplace_back(seg, seg->size);
    dir = dir_unsynced_;
    dir_unsynced_ = false;
  }
  for (const auto& [seg, size] : behind) {
    Status st = opts_.env->fdatasync(seg->fd, seg->path);
    std::lock_guard lock(mu_);
    if (!st.is_ok()) return sync_fault_ = st;  // fail-stop, as in sync_through
    seg->durable = std::max(seg->durable, size);
  }
  if (dir) {
    Status st = fsync_dir(dir_, *opts_.env);
    if (!st.is_ok()) {
      std::lock_guard lock(mu_);
      dir_unsynced_ = true;
      return st;
    }
  }
  return Status::ok();
}

Status SegmentStore::sync_through(const AppendMark& mark) {
  if (opts_.durability == Durability::kNone) KISEKI_TRY(sync_rolled());
  std::unique_lock lock(mu_);
  auto it = segments_.find(mark.segment);
  // A segment that is no longer the active one was synced when it rolled (or
  // removed by compaction after its records moved).
  if (it == segments_.end()) return active_ && mark.segment < active_->id ? Status::ok() : not_found("segment gone");
  std::shared_ptr<Segment> seg = it->second;
  while (seg->durable < mark.end) {
    if (!sync_fault_.is_ok()) return sync_fault_;
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    // Become the leader: one fdatasync covers every write completed so far;
    // whoever waits meanwhile shares it or the next one (group commit).
    syncing_ = true;
    uint64_t target = seg->size;
    lock.unlock();
    auto t0 = std::chrono::steady_clock::now();
    Status st = opts_.env->fdatasync(seg->fd, seg->path);
    fsync_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    fsyncs_->inc();
    lock.lock();
    syncing_ = false;
    if (st.is_ok() && target > seg->durable) seg->durable = target;
    if (st.is_ok()) KISEKI_KILL_POINT("segment.after_sync");
    // After a failed fdatasync the kernel may have dropped the dirty pages and
    // a retry would report success: nothing appended since the last good sync
    // is trusted again (fail-stop until a restart re-reads the files).
    if (!st.is_ok()) {
      KLOG_ERROR("chunk segment {}: fdatasync failed, refusing every later sync: {}", seg->id, st.to_string());
      sync_fault_ = st;
    }
    synced_cv_.notify_all();
    KISEKI_TRY(st);
  }
  return Status::ok();
}

Status SegmentStore::fault() const {
  std::lock_guard lock(mu_);
  return sync_fault_;
}

std::shared_ptr<SegmentStore::Segment> SegmentStore::find(SegmentId id) const {
  std::lock_guard lock(mu_);
  auto it = segments_.find(id);
  return it == segments_.end() ? nullptr : it->second;
}

Status SegmentStore::read(const ChunkId& id, const Location& loc, Bytes* sealed) const {
  auto seg = find(loc.segment);  // holds the fd open even if the segment is removed
  if (!seg) return corruption("chunk " + id.hex() + " points at missing segment " + std::to_string(loc.segment));
  if (loc.length > kMaxRecordPayload) return corruption("chunk location has an impossible length");
  sealed->resize(loc.length);
  uint8_t header[kRecordHeaderSize];
  iovec iov[2] = {{header, sizeof(header)}, {sealed->data(), loc.length}};
  KISEKI_ASSIGN_OR_RETURN(size_t n, opts_.env->preadv(seg->fd, seg->path, iov, 2, loc.offset));
  if (n != loc.record_size()) return corruption("chunk record truncated");
  return verify_record(header, *sealed, &id);
}

std::vector<SegmentId> SegmentStore::segments() const {
  std::lock_guard lock(mu_);
  std::vector<SegmentId> ids;
  for (const auto& [id, s] : segments_) ids.push_back(id);
  return ids;
}

SegmentId SegmentStore::active_segment() const {
  std::lock_guard lock(mu_);
  return active_->id;
}

uint64_t SegmentStore::segment_size(SegmentId id) const {
  std::lock_guard lock(mu_);
  auto it = segments_.find(id);
  return it == segments_.end() ? 0 : it->second->size;
}

Status SegmentStore::scan(SegmentId id, const std::function<void(const ScannedRecord&)>& visit) const {
  auto seg = find(id);
  if (!seg) return not_found("segment " + std::to_string(id));
  uint64_t size = segment_size(id);
  KISEKI_ASSIGN_OR_RETURN(uint64_t valid, scan_segment(seg->fd, id, size, visit));
  if (valid != size)
    return corruption("segment " + std::to_string(id) + ": invalid record at offset " + std::to_string(valid));
  return Status::ok();
}

Status SegmentStore::remove(SegmentId id) {
  std::lock_guard lock(mu_);
  if (active_ && active_->id == id) return invalid_argument("cannot remove the active segment");
  if (segments_.erase(id) == 0) return not_found("segment " + std::to_string(id));
  KISEKI_TRY(opts_.env->unlink(dir_ + "/" + segment_file_name(id)));
  return opts_.durability == Durability::kNone ? Status::ok() : fsync_dir(dir_, *opts_.env);
}

ScrubReport SegmentStore::scrub() const {
  ScrubReport report;
  for (SegmentId id : segments()) {
    ++report.segments;
    Status st = scan(id, [&](const ScannedRecord& r) {
      ++report.records;
      report.bytes += r.loc.record_size();
    });
    if (!st.is_ok()) report.problems.push_back(st.message());
  }
  return report;
}

}  // namespace kiseki::chunk
