#include "support/power_cut_model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>

namespace kiseki::testing {

namespace fs = std::filesystem;

namespace {

std::string parent_of(const std::string& p) { return fs::path(p).parent_path().string(); }
std::string name_of(const std::string& p) { return fs::path(p).filename().string(); }

bool size_of(const std::string& p, uint64_t* size) {
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

}  // namespace

std::string PowerCutModel::normal(const std::string& path) {
  std::string s = fs::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string PowerCutModel::Report::to_string() const {
  return std::to_string(entries_removed) + " entries removed, " + std::to_string(entries_restored) +
         " restored, " + std::to_string(files_truncated) + " files cut back by " + std::to_string(bytes_dropped) +
         " bytes, " + std::to_string(torn_bytes_kept) + " torn bytes kept";
}

PowerCutModel::PowerCutModel(std::string root, std::string save_dir)
    : root_(normal(root)), save_dir_(normal(save_dir)) {}

PowerCutModel::~PowerCutModel() {
  std::error_code ec;
  fs::remove_all(save_dir_, ec);
}

void PowerCutModel::snapshot_dir(const std::string& dir) {
  auto& names = entries_[dir];
  names.clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
}

void PowerCutModel::baseline() {
  synced_.clear();
  entries_.clear();
  saved_.clear();
  last_written_.clear();
  last_write_at_ = last_write_end_ = 0;
  std::error_code ec;
  fs::remove_all(save_dir_, ec);
  fs::create_directories(save_dir_, ec);
  snapshot_dir(root_);
  for (const auto& e : fs::recursive_directory_iterator(root_, ec)) {
    std::string p = normal(e.path().string());
    if (e.is_directory()) snapshot_dir(p);
    uint64_t size;
    if (size_of(p, &size)) synced_[p] = size;
  }
}

bool PowerCutModel::durable_entry(const std::string& path) const {
  auto it = entries_.find(parent_of(path));
  return it != entries_.end() && it->second.count(name_of(path));
}

// A durable entry about to be replaced or removed: a hard link keeps its file
// so that a cut before its directory's next sync can bring it back.
void PowerCutModel::save(const std::string& path) {
  for (const auto& s : saved_)
    if (s.path == path) return;  // the older one is what is durable
  uint64_t size;
  if (!durable_entry(path) || !size_of(path, &size)) return;
  std::string copy = save_dir_ + "/" + std::to_string(++saves_);
  if (::link(path.c_str(), copy.c_str()) != 0) return;
  auto sync = synced_.find(path);
  saved_.push_back({path, copy, sync == synced_.end() ? 0 : sync->second});
}

void PowerCutModel::before_sync(const std::string& file) {
  uint64_t size;
  if (size_of(file, &size)) synced_[file] = size;
}

void PowerCutModel::before_sync_dir(const std::string& dir) {
  snapshot_dir(dir);
  for (auto it = saved_.begin(); it != saved_.end();) {
    if (parent_of(it->path) == dir) {
      ::unlink(it->copy.c_str());
      it = saved_.erase(it);
    } else {
      ++it;
    }
  }
}

void PowerCutModel::before_write(const std::string& file, uint64_t offset) {
  last_written_ = file;
  last_write_at_ = last_write_end_ = offset;
}

void PowerCutModel::power_went() {
  uint64_t size;
  if (!last_written_.empty() && last_write_end_ == last_write_at_ && size_of(last_written_, &size))
    last_write_end_ = size;
}

void PowerCutModel::before_remove(const std::string& path) {
  save(path);
  synced_.erase(path);
}

void PowerCutModel::before_rename(const std::string& from, const std::string& to) {
  save(to);
  // The file keeps what it made durable under its new name.
  auto it = synced_.find(from);
  uint64_t synced = it == synced_.end() ? 0 : it->second;
  if (it != synced_.end()) synced_.erase(it);
  synced_[to] = synced;
}

void PowerCutModel::truncated(const std::string& file, uint64_t size) {
  auto it = synced_.find(file);
  if (it != synced_.end() && it->second > size) it->second = size;
}

PowerCutModel::Report PowerCutModel::cut(bool tear, uint64_t seed) {
  Report r;
  std::error_code ec;
  // Entries made since their directory's last sync are gone; a directory made
  // since the baseline and never synced keeps none of its files.
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root_, ec))
    if (e.is_regular_file()) files.push_back(normal(e.path().string()));
  for (const auto& f : files) {
    if (durable_entry(f)) continue;
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
    if (tear && f == last_written_ && last_write_at_ == keep && last_write_end_ > keep) {
      // A part of the last write, never all of it (nor what came after the power went).
      uint64_t extra = rng() % (std::min(last_write_end_, size) - keep);
      keep += extra;
      r.torn_bytes_kept += extra;
    }
    if (::truncate(f.c_str(), static_cast<off_t>(keep)) == 0) {
      ++r.files_truncated;
      r.bytes_dropped += size - keep;
    }
  }
  baseline();
  return r;
}

}  // namespace kiseki::testing
