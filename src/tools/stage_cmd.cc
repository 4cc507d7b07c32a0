#include "tools/stage_cmd.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "mount/mount_ioctl.h"
#include "tools/table.h"

namespace kiseki::tools {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kStep = 64ull << 20;  // bytes per ioctl: the progress bar moves this often

// mountinfo writes space, tab, newline and backslash as octal escapes.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The mount points of the kiseki mounts whose source is `fsname`.
std::vector<std::string> find_mounts(const std::string& fsname) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string x; f >> x;) w.push_back(x);
    auto dash = std::find(w.begin(), w.end(), "-");
    if (w.size() < 5 || dash == w.end() || w.end() - dash < 3) continue;
    if (dash[1] == "fuse.kiseki" && unescape(dash[2]) == fsname) out.push_back(unescape(w[4]));
  }
  return out;
}

struct Progress {
  uint64_t total_bytes = 0, done_bytes = 0, fetched = 0;
  size_t total_files = 0, done_files = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  bool tty = ::isatty(STDERR_FILENO);

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void draw() const {
    if (!tty) return;
    constexpr int kWidth = 30;
    double f = total_bytes ? static_cast<double>(done_bytes) / static_cast<double>(total_bytes) : 1.0;
    int fill = static_cast<int>(f * kWidth);
    double rate = seconds() > 0 ? static_cast<double>(fetched) / seconds() : 0;
    std::fprintf(stderr, "\r[%s%s] %3d%%  %s / %s  %zu/%zu files  %s/s   ", std::string(fill, '#').c_str(),
                 std::string(kWidth - fill, ' ').c_str(), static_cast<int>(f * 100), human_bytes(done_bytes).c_str(),
                 human_bytes(total_bytes).c_str(), done_files, total_files,
                 human_bytes(static_cast<uint64_t>(rate)).c_str());
  }
};

// Stages one file; 0, or the errno that stopped it.
int stage_file(const fs::path& p, uint64_t size, Progress* pr) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  for (uint64_t off = 0; off < size || (off == 0 && size == 0);) {
    kiseki_stage_range r{off, kStep, 0, 0};
    if (::ioctl(fd, KISEKI_IOC_STAGE, &r) != 0) {
      err = errno;
      break;
    }
    pr->done_bytes += r.staged;
    pr->fetched += r.fetched;
    pr->draw();
    if (r.staged < kStep) break;  // the file ends there (or shrank)
    off += kStep;
  }
  ::close(fd);
  return err;
}

int stage(const std::string& target, const std::string& mountpoint_arg) {
  size_t a = target.find('/');
  size_t b = a == std::string::npos ? a : target.find('/', a + 1);
  if (a == std::string::npos || a == 0 || a + 1 == target.size() || b == a + 1) {
    std::fprintf(stderr, "kiseki stage: name the tree as TENANT/NAMESPACE[/PATH]\n");
    return 2;
  }
  std::string fsname = "kiseki:" + target.substr(0, b);
  std::string rel = b == std::string::npos ? "" : target.substr(b + 1);
  std::string mountpoint = mountpoint_arg;
  if (mountpoint.empty()) {
    std::vector<std::string> found = find_mounts(fsname);
    if (found.empty()) {
      std::fprintf(stderr, "kiseki stage: %s is not mounted here (kiseki mount %s MOUNTPOINT -o cache_dir=DIR)\n",
                   fsname.c_str() + 7, fsname.c_str() + 7);
      return 1;
    }
    if (found.size() > 1) {
      std::string all;
      for (const auto& f : found) all += (all.empty() ? "" : ", ") + f;
      std::fprintf(stderr, "kiseki stage: %s is mounted at %s: name one with --mountpoint\n", fsname.c_str() + 7,
                   all.c_str());
      return 2;
    }
    mountpoint = found.front();
  }
  fs::path root = fs::path(mountpoint) / rel;
  std::vector<std::pair<fs::path, uint64_t>> files;
  std::error_code ec;
  auto st = fs::symlink_status(root, ec);
  if (ec) {
    std::fprintf(stderr, "kiseki stage: %s: %s\n", root.c_str(), ec.message().c_str());
    return 1;
  }
  Progress pr;
  if (fs::is_regular_file(st)) {
    files.emplace_back(root, fs::file_size(root, ec));
  } else {
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code e2;
      if (it->is_regular_file(e2) && !it->is_symlink(e2)) files.emplace_back(it->path(), it->file_size(e2));
    }
    if (ec) {
      std::fprintf(stderr, "kiseki stage: %s: %s\n", root.c_str(), ec.message().c_str());
      return 1;
    }
  }
  pr.total_files = files.size();
  for (const auto& f : files) pr.total_bytes += f.second;
  int failed = 0;
  for (const auto& [path, size] : files) {
    int err = stage_file(path, size, &pr);
    if (err == EOPNOTSUPP || err == ENOTTY) {
      std::fprintf(stderr, "%skiseki stage: the mount at %s has no disk cache (mount it with -o cache_dir=DIR)\n",
                   pr.tty ? "\n" : "", mountpoint.c_str());
      return 1;
    }
    if (err == ENOSPC) {
      std::fprintf(stderr, "%skiseki stage: the mount's disk cache is full of pinned blocks (-o cache_size=)\n",
                   pr.tty ? "\n" : "");
      return 1;
    }
    if (err) {
      std::fprintf(stderr, "%skiseki stage: %s: %s\n", pr.tty ? "\n" : "", path.c_str(), std::strerror(err));
      ++failed;
    }
    ++pr.done_files;
    pr.draw();
  }
  if (pr.tty) std::fprintf(stderr, "\n");
  std::printf("staged %zu files, %s (%s fetched) in %.1f s\n", pr.done_files - failed,
              human_bytes(pr.done_bytes).c_str(), human_bytes(pr.fetched).c_str(), pr.seconds());
  return failed ? 1 : 0;
}

}  // namespace

void add_stage_command(CLI::App& app, std::function<void(std::function<int()>)> run) {
  auto target = std::make_shared<std::string>();
  auto mountpoint = std::make_shared<std::string>();
  auto* s = app.add_subcommand("stage", "pin a tree of a mounted namespace into the mount's disk cache: "
                                        "kiseki stage TENANT/NAMESPACE[/PATH]");
  s->add_option("target", *target, "TENANT/NAMESPACE[/PATH]")->required();
  s->add_option("--mountpoint", *mountpoint, "the mount to stage into (default: the one of TENANT/NAMESPACE)");
  s->callback([run, target, mountpoint] { run([target, mountpoint] { return stage(*target, *mountpoint); }); });
}

}  // namespace kiseki::tools
