#include "support/power_cut_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>

namespace kiseki::testing {

namespace fs = std::filesystem;

static std::string normal(std::string_view p) {
  std::string s = fs::path(p).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

static std::string parent_of(const std::string& p) { return fs::path(p).parent_path().string(); }

static bool size_of(const std::string& p, uint64_t* size) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

PowerCutEnv::PowerCutEnv(std::string root) : root_(normal(root)), save_dir_(root_ + ".power-cut-saved") {}

PowerCutEnv::~PowerCutEnv() {
  std::error_code ec;
  fs::remove_all(save_dir_, ec);
}

void PowerCutEnv::snapshot_dir_locked(const std::string& dir) const {
  auto& names = entries_[dir];
  names.clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
}

void PowerCutEnv::arm(uint64_t cut_at) {
  std::lock_guard lock(mu_);
  synced_.clear();
  entries_.clear();
  saved_.clear();
  sync_ops_.clear();
  last_written_.clear();
  std::error_code ec;
  fs::remove_all(save_dir_, ec);
  fs::create_directories(save_dir_, ec);
  snapshot_dir_locked(root_);
  for (const auto& e : fs::recursive_directory_iterator(root_, ec)) {
    std::string p = normal(e.path().string());
    if (e.is_directory()) snapshot_dir_locked(p);
    uint64_t size;
    if (size_of(p, &size)) synced_[p] = size;
  }
  ops_ = 0;
  cut_at_ = cut_at;
  cut_ = false;
  armed_ = true;
}

void PowerCutEnv::cut() {
  std::lock_guard lock(mu_);
  cut_ = true;
}

bool PowerCutEnv::is_cut() const {
  std::lock_guard lock(mu_);
  return cut_;
}

uint64_t PowerCutEnv::ops() const {
  std::lock_guard lock(mu_);
  return ops_;
}

uint64_t PowerCutEnv::last_sync(const std::function<bool(const std::string&)>& match) const {
  std::lock_guard lock(mu_);
  uint64_t last = 0;
  for (const auto& [path, op] : sync_ops_)
    if (match(path)) last = std::max(last, op);
  return last;
}

bool PowerCutEnv::powered_locked() const {
  if (cut_) return false;
  ++ops_;
  if (cut_at_ != 0 && ops_ >= cut_at_) cut_ = true;
  return !cut_;
}

// A durable entry about to be replaced or removed: a hard link keeps its file
// so that a cut before its directory's next sync can bring it back.
void PowerCutEnv::save_locked(const std::string& path) const {
  for (const auto& s : saved_)
    if (s.path == path) return;  // the older one is what is durable
  auto it = entries_.find(parent_of(path));
  if (it == entries_.end() || !it->second.count(fs::path(path).filename().string())) return;
  uint64_t size;
  if (!size_of(path, &size)) return;
  std::string copy = save_dir_ + "/" + std::to_string(++saves_);
  if (::link(path.c_str(), copy.c_str()) != 0) return;
  auto sync = synced_.find(path);
  saved_.push_back({path, copy, sync == synced_.end() ? 0 : sync->second});
}

Status PowerCutEnv::check(FileOp op, std::string_view raw) const {
  std::lock_guard lock(mu_);
  if (!armed_) return Status::ok();
  std::string path = normal(raw);
  if (!powered_locked()) {
    // What the process does after the cut never reaches the disk: a sync
    // makes nothing durable, and a removed or replaced entry comes back.
    if (op == FileOp::kRemove || op == FileOp::kRename) save_locked(path);
    return Status::ok();
  }
  switch (op) {
    case FileOp::kSync: {
      // Whatever the file holds when its sync is asked for is durable after it.
      uint64_t size;
      if (size_of(path, &size)) synced_[path] = size;
      sync_ops_[path] = ops_;
      break;
    }
    case FileOp::kSyncDir: {
      snapshot_dir_locked(path);
      for (auto it = saved_.begin(); it != saved_.end();) {
        if (parent_of(it->path) == path) {
          ::unlink(it->copy.c_str());
          it = saved_.erase(it);
        } else {
          ++it;
        }
      }
      break;
    }
    case FileOp::kWrite: {
      // Appends only: the write about to happen starts at the file's end.
      uint64_t size = 0;
      last_written_ = path;
      last_write_at_ = size_of(path, &size) ? size : 0;
      break;
    }
    case FileOp::kRemove:
      save_locked(path);
      break;
    case FileOp::kRename:
      save_locked(path);
      break;
    default:
      break;
  }
  return Status::ok();
}

Status PowerCutEnv::check_rename(std::string_view raw_from, std::string_view raw_to) const {
  std::lock_guard lock(mu_);
  if (!armed_) return Status::ok();
  std::string from = normal(raw_from), to = normal(raw_to);
  save_locked(to);
  if (!powered_locked()) return Status::ok();
  // The file keeps what it made durable under its new name.
  auto it = synced_.find(from);
  uint64_t synced = it == synced_.end() ? 0 : it->second;
  if (it != synced_.end()) synced_.erase(it);
  synced_[to] = synced;
  return Status::ok();
}

PowerCutEnv::Report PowerCutEnv::apply_power_cut(uint64_t seed, bool tear) {
  std::lock_guard lock(mu_);
  Report r;
  std::error_code ec;
  // Entries made since their directory's last sync are gone; a directory made
  // after arm() and never synced keeps none of its files.
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root_, ec))
    if (e.is_regular_file()) files.push_back(normal(e.path().string()));
  for (const auto& f : files) {
    auto it = entries_.find(parent_of(f));
    if (it != entries_.end() && it->second.count(fs::path(f).filename().string())) continue;
    ::unlink(f.c_str());
    ++r.entries_removed;
  }
  // Entries replaced or removed since their directory's last sync come back.
  for (const auto& s : saved_) {
    if (::rename(s.copy.c_str(), s.path.c_str()) == 0) {
      synced_[s.path] = s.synced;
      ++r.entries_restored;
    }
  }
  saved_.clear();
  // Every file is cut back to what its last sync made durable.
  std::mt19937_64 rng(seed);
  for (const auto& e : fs::recursive_directory_iterator(root_, ec)) {
    std::string f = normal(e.path().string());
    uint64_t size;
    if (!size_of(f, &size)) continue;
    auto it = synced_.find(f);
    uint64_t keep = it == synced_.end() ? 0 : std::min(it->second, size);
    if (keep == size) continue;
    if (tear && f == last_written_ && last_write_at_ == keep) {
      uint64_t extra = rng() % (size - keep);  // a part of it, never all
      keep += extra;
      r.torn_bytes_kept += extra;
    }
    if (keep == size) continue;
    if (::truncate(f.c_str(), static_cast<off_t>(keep)) == 0) {
      ++r.files_truncated;
      r.bytes_dropped += size - keep;
    }
  }
  armed_ = false;
  cut_ = false;
  return r;
}

}  // namespace kiseki::testing
