#include "support/power_cut_env.h"

#include <sys/stat.h>

namespace kiseki::testing {

PowerCutEnv::PowerCutEnv(const std::string& root)
    : model_(root, PowerCutModel::normal(root) + ".power-cut-saved") {}

void PowerCutEnv::arm(uint64_t cut_at) {
  std::lock_guard lock(mu_);
  model_.baseline();
  sync_ops_.clear();
  ops_ = 0;
  cut_at_ = cut_at;
  cut_ = false;
  armed_ = true;
}

void PowerCutEnv::cut() {
  std::lock_guard lock(mu_);
  if (!cut_) model_.power_went();
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
  if (cut_at_ != 0 && ops_ >= cut_at_) {
    cut_ = true;
    model_.power_went();
  }
  return !cut_;
}

Status PowerCutEnv::check(FileOp op, std::string_view raw) const {
  std::lock_guard lock(mu_);
  if (!armed_) return Status::ok();
  std::string path = PowerCutModel::normal(std::string(raw));
  if (!powered_locked()) {
    // What the process does after the cut never reaches the disk: a sync
    // makes nothing durable, and a removed entry comes back.
    if (op == FileOp::kRemove) model_.before_remove(path);
    return Status::ok();
  }
  switch (op) {
    case FileOp::kSync:
      model_.before_sync(path);
      sync_ops_[path] = ops_;
      break;
    case FileOp::kSyncDir:
      model_.before_sync_dir(path);
      break;
    case FileOp::kWrite: {
      // Appends only: the write about to happen starts at the file's end.
      struct stat st;
      model_.before_write(path, ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0);
      break;
    }
    case FileOp::kRemove:
      model_.before_remove(path);
      break;
    default:
      break;
  }
  return Status::ok();
}

Status PowerCutEnv::check_rename(std::string_view raw_from, std::string_view raw_to) const {
  std::lock_guard lock(mu_);
  if (!armed_) return Status::ok();
  std::string from = PowerCutModel::normal(std::string(raw_from)), to = PowerCutModel::normal(std::string(raw_to));
  if (!powered_locked()) {
    model_.before_remove(to);
    return Status::ok();
  }
  model_.before_rename(from, to);
  return Status::ok();
}

PowerCutModel::Report PowerCutEnv::apply_power_cut(uint64_t seed, bool tear) {
  std::lock_guard lock(mu_);
  auto r = model_.cut(tear, seed);
  armed_ = false;
  cut_ = false;
  return r;
}

}  // namespace kiseki::testing
