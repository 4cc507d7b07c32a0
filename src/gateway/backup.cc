// Gateway::backup: a consistent copy of the data directory while it serves.
//
// Order matters: the metadata checkpoint comes first, so every chunk location it
// holds points into a segment that exists now; compaction (the only thing that
// removes segments) waits until the copy is done; the segments are copied after
// the checkpoint, so they hold every record it points at (and perhaps newer
// ones, which a restored store sees as unreferenced garbage); the keys are copied
// last, after every tenant record the checkpoint holds was made.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <algorithm>
#include <filesystem>

#include "chunk/segment.h"
#include "chunk/segment_store.h"
#include "common/file_util.h"
#include "gateway/local_gateway.h"
#include "meta/schema.h"

namespace kiseki::gateway {

namespace fs = std::filesystem;

Result<BackupReport> LocalGateway::backup(const std::string& dir) {
  std::lock_guard lock(maintenance_mu_);
  if (dir.empty() || dir[0] != '/') return invalid_argument("the backup directory must be an absolute path");
  std::error_code ec;
  if (fs::exists(dir, ec)) return make_error(ErrorCode::kExists, "the backup directory " + dir + " already exists");
  fs::path data = fs::weakly_canonical(opts_.data_dir, ec);
  fs::path target = fs::weakly_canonical(dir, ec);
  if (!ec && (target == data || std::mismatch(data.begin(), data.end(), target.begin(), target.end()).first == data.end()))
    return invalid_argument("the backup directory cannot be inside the data directory");
  KISEKI_TRY(make_dirs(dir));
  ::chmod(dir.c_str(), 0700);
  BackupReport r;
  boost::json::array files;
  auto record = [&](const std::string& rel) {
    uint64_t n = fs::file_size(dir + "/" + rel, ec);
    files.push_back(boost::json::object{{"path", rel}, {"bytes", n}});
    ++r.files;
    r.bytes += n;
  };

  KISEKI_TRY(chunks_->flush_local());
  KISEKI_TRY(meta_->checkpoint(dir + "/meta"));
  for (const auto& e : fs::directory_iterator(dir + "/meta", ec)) record("meta/" + e.path().filename().string());
  // A cluster node's other metadata shards (ADR 0009).
  for (size_t k = 1; k <= data_.size(); ++k) {
    std::string name = "meta-shard-" + std::to_string(k);
    KISEKI_TRY(data_[k - 1].store->checkpoint(dir + "/" + name));
    for (const auto& e : fs::directory_iterator(dir + "/" + name, ec)) record(name + "/" + e.path().filename().string());
  }

  KISEKI_TRY(make_dirs(dir + "/chunks"));
  chunk::SegmentStore* segs = chunks_->segments();
  for (SegmentId id : segs->segments()) {
    std::string name = chunk::segment_file_name(id);
    KISEKI_TRY(copy_file(segs->dir() + "/" + name, dir + "/chunks/" + name, segs->segment_size(id)).status());
    record("chunks/" + name);
  }
  KISEKI_TRY(fsync_dir(dir + "/chunks"));

  // The keys and the server's own files (credentials, admin tokens): every
  // regular file but the lock.
  KISEKI_TRY(make_dirs(dir + "/keys"));
  ::chmod((dir + "/keys").c_str(), 0700);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{opts_.data_dir + "/keys", "keys/"},
                                 {opts_.data_dir, ""}}) {
    for (const auto& e : fs::directory_iterator(from, ec)) {
      std::string name = e.path().filename().string();
      if (!e.is_regular_file() || name == "lock" || name.ends_with(".tmp")) continue;
      KISEKI_TRY(copy_file(e.path().string(), dir + "/" + to + name).status());
      record(to + name);
    }
    if (ec) return io_error("list " + from + ": " + ec.message());
  }
  KISEKI_TRY(fsync_dir(dir + "/keys"));

  boost::json::object manifest{{"kiseki_backup", 1},
                               {"metadata_format", meta::kFormatVersion},
                               {"created_ns", now()},
                               {"files", std::move(files)}};
  KISEKI_TRY(write_file_atomic(dir + "/kiseki-backup.json", boost::json::serialize(manifest) + "\n", 0600));
  return r;
}

}  // namespace kiseki::gateway
