#include "cluster/snapshot_transfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "common/file_util.h"
#include "common/logging.h"

namespace kiseki::cluster {

namespace {
namespace fs = std::filesystem;
constexpr uint32_t kPieceBytes = 4 << 20;
constexpr auto kCallDeadline = std::chrono::milliseconds(30000);

// A token or file name from another node: one plain path component.
bool plain_name(std::string_view s) {
  return !s.empty() && s.size() < 256 && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}
}  // namespace

SnapshotSource::SnapshotSource(std::string dir, std::chrono::seconds ttl) : dir_(std::move(dir)), ttl_(ttl) {
  // What a previous run left is of no use: nobody holds its tokens.
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

SnapshotSource::~SnapshotSource() { drop_all(); }

void SnapshotSource::expire_locked() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = open_.begin(); it != open_.end();) {
    if (now - it->second < ttl_) {
      ++it;
      continue;
    }
    std::error_code ec;
    fs::remove_all(dir_ + "/" + it->first, ec);
    it = open_.erase(it);
  }
}

Result<std::string> SnapshotSource::open(meta::Store* store, uint64_t applied, uint64_t min_index,
                                         std::vector<CheckpointFile>* files) {
  if (applied < min_index)
    return make_error(ErrorCode::kUnavailable, "this node has applied through " + std::to_string(applied) +
                                                   ", not " + std::to_string(min_index));
  std::string token;
  {
    std::lock_guard lock(mu_);
    expire_locked();
    token = "checkpoint-" + std::to_string(applied) + "-" + std::to_string(next_++);
  }
  KISEKI_TRY(make_dirs(dir_));
  std::string path = dir_ + "/" + token;
  KISEKI_TRY(store->checkpoint(path));
  files->clear();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (!e.is_regular_file()) continue;
    files->push_back({e.path().filename().string(), static_cast<uint64_t>(e.file_size())});
  }
  if (ec) return io_error("list " + path + ": " + ec.message());
  std::lock_guard lock(mu_);
  open_[token] = std::chrono::steady_clock::now();
  return token;
}

Status SnapshotSource::read(std::string_view token, std::string_view file, uint64_t offset, uint32_t max,
                            std::string* out) {
  if (!plain_name(token) || !plain_name(file)) return invalid_argument("bad checkpoint file name");
  {
    std::lock_guard lock(mu_);
    auto it = open_.find(token);
    if (it == open_.end()) return not_found("no checkpoint " + std::string(token) + " is open here");
    it->second = std::chrono::steady_clock::now();
  }
  std::string path = dir_ + "/" + std::string(token) + "/" + std::string(file);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open " + path + ": " + std::strerror(errno));
  out->resize(std::min(max, kPieceBytes));
  ssize_t n = ::pread(fd, out->data(), out->size(), static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (n < 0) return io_error("read " + path + ": " + std::strerror(err));
  out->resize(static_cast<size_t>(n));
  return Status::ok();
}

void SnapshotSource::close(std::string_view token) {
  if (!plain_name(token)) return;
  std::lock_guard lock(mu_);
  auto it = open_.find(token);
  if (it == open_.end()) return;
  std::error_code ec;
  fs::remove_all(dir_ + "/" + std::string(token), ec);
  open_.erase(it);
}

void SnapshotSource::drop_all() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
  open_.clear();
}

namespace {
Status fetch_from(Peers* peers, uint64_t node, uint64_t shard, uint64_t min_index, const std::string& dest) {
  std::string req;
  Encoder(&req).u64(shard).u64(min_index);
  KISEKI_ASSIGN_OR_RETURN(std::string answer, peers->call(node, FabricOp::kSnapshotOpen, req, kCallDeadline));
  Decoder in(answer);
  std::string token(in.str());
  uint32_t n = in.u32();
  std::vector<CheckpointFile> files;
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    CheckpointFile f;
    f.name = std::string(in.str());
    f.size = in.u64();
    files.push_back(std::move(f));
  }
  if (!in.ok() || !in.done() || !plain_name(token)) return corruption("malformed snapshot answer");
  auto close = [&] {
    std::string c;
    Encoder(&c).str(token);
    (void)peers->call(node, FabricOp::kSnapshotClose, c, std::chrono::milliseconds(2000));
  };
  Status st = make_dirs(dest);
  uint64_t total = 0;
  for (const auto& f : files) {
    if (!st) break;
    if (!plain_name(f.name)) {
      st = corruption("malformed snapshot file name");
      break;
    }
    std::string path = dest + "/" + f.name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      st = io_error("create " + path + ": " + std::strerror(errno));
      break;
    }
    for (uint64_t off = 0; off < f.size && st.is_ok();) {
      std::string r;
      Encoder(&r).str(token).str(f.name).u64(off).u32(kPieceBytes);
      auto piece = peers->call(node, FabricOp::kSnapshotRead, r, kCallDeadline);
      if (!piece) {
        st = piece.status();
        break;
      }
      if (piece->empty()) {
        st = corruption(f.name + " ended at " + std::to_string(off) + " of " + std::to_string(f.size) + " bytes");
        break;
      }
      if (::pwrite(fd, piece->data(), piece->size(), static_cast<off_t>(off)) != static_cast<ssize_t>(piece->size()))
        st = io_error("write " + path + ": " + std::strerror(errno));
      off += piece->size();
      total += piece->size();
    }
    if (st.is_ok() && ::fsync(fd) != 0) st = io_error("fsync " + path + ": " + std::strerror(errno));
    ::close(fd);
  }
  if (st.is_ok()) st = fsync_dir(dest);
  close();
  if (st.is_ok())
    KLOG_INFO("shard {}: fetched a checkpoint from node {} ({} files, {} bytes)", shard, node, files.size(), total);
  return st;
}
}  // namespace

Status fetch_checkpoint(Peers* peers, uint64_t shard, const std::vector<uint64_t>& candidates, uint64_t min_index,
                        const std::string& dest) {
  Status last = make_error(ErrorCode::kUnavailable, "no node to fetch a snapshot from");
  for (uint64_t node : candidates) {
    if (node == peers->self()) continue;
    std::error_code ec;
    fs::remove_all(dest, ec);
    last = fetch_from(peers, node, shard, min_index, dest);
    if (last.is_ok()) return last;
    KLOG_WARN("shard {}: no checkpoint from node {}: {}", shard, node, last.to_string());
  }
  return last;
}

}  // namespace kiseki::cluster
