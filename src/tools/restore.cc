#include "tools/restore.h"

#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "common/file_util.h"

namespace kiseki::tools {

namespace fs = std::filesystem;

Result<RestoreReport> restore_backup(const std::string& backup_dir, const std::string& data_dir) {
  std::string manifest_path = backup_dir + "/kiseki-backup.json";
  auto text = read_file(manifest_path);
  if (!text)
    return invalid_argument(backup_dir + " is not a complete Kiseki backup (no kiseki-backup.json: " +
                            text.status().message() + ")");
  boost::system::error_code jec;
  auto v = boost::json::parse(*text, jec);
  if (jec || !v.is_object() || !v.as_object().contains("files") || !v.as_object()["files"].is_array())
    return invalid_argument(manifest_path + " is not a backup manifest");
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec))
    return make_error(ErrorCode::kExists, "the data directory " + data_dir +
                                              " is not empty: restore into a new one (move the old one aside first)");
  // Every file is checked before anything is written.
  std::vector<std::pair<std::string, uint64_t>> files;
  for (const auto& f : v.as_object()["files"].as_array()) {
    if (!f.is_object() || !f.as_object().contains("path") || !f.as_object().contains("bytes"))
      return invalid_argument(manifest_path + ": malformed file entry");
    std::string rel(f.as_object().at("path").as_string());
    uint64_t bytes = f.as_object().at("bytes").to_number<uint64_t>();
    if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos)
      return invalid_argument(manifest_path + ": bad path '" + rel + "'");
    uint64_t have = fs::file_size(backup_dir + "/" + rel, ec);
    if (ec) return not_found("the backup lacks " + rel + ": " + ec.message());
    if (have != bytes)
      return corruption("the backup's " + rel + " has " + std::to_string(have) + " bytes, the manifest says " +
                        std::to_string(bytes));
    files.emplace_back(rel, bytes);
  }
  KISEKI_TRY(make_dirs(data_dir));
  ::chmod(data_dir.c_str(), 0700);
  RestoreReport r;
  std::set<std::string> dirs = {data_dir};
  for (const auto& [rel, bytes] : files) {
    std::string to = data_dir + "/" + rel;
    std::string parent = fs::path(to).parent_path().string();
    if (dirs.insert(parent).second) {
      KISEKI_TRY(make_dirs(parent));
      ::chmod(parent.c_str(), 0700);
    }
    KISEKI_ASSIGN_OR_RETURN(uint64_t n, copy_file(backup_dir + "/" + rel, to));
    r.bytes += n;
    ++r.files;
  }
  for (const auto& d : dirs) KISEKI_TRY(fsync_dir(d));
  return r;
}

}  // namespace kiseki::tools
