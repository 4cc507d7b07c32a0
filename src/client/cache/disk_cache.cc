#include "client/cache/disk_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crc32c.h"
#include "common/logging.h"

namespace kiseki::client {

namespace {

constexpr uint32_t kMagic = 0x434b534b;  // "KSKC"
constexpr uint32_t kFormat = 1;

struct Header {
  uint32_t magic, format;
  uint64_t ns, ino, index;
  int64_t mtime_ns;
  uint64_t size;
  uint32_t length, crc;
};
static_assert(sizeof(Header) == 56);

uint32_t crc_of(Header h, std::string_view data) {
  h.crc = 0;
  return crc32c(data.data(), data.size(), crc32c(&h, sizeof(h)));
}

Status errno_status(const std::string& what) {
  return Status(ErrorCode::kIoError, what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<DiskCache>> DiskCache::open(const std::string& dir, uint64_t capacity) {
  std::string root = dir + "/kiseki-l2";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) return errno_status("cache_dir " + root);
  struct stat st{};
  if (::lstat(root.c_str(), &st) != 0) return errno_status("cache_dir " + root);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return invalid_argument("cache_dir " + root + " is not a directory of this user");
  if (::chmod(root.c_str(), 0700) != 0) return errno_status("cache_dir " + root);
  int fd = ::open((root + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cache_dir lock");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return invalid_argument("cache_dir " + dir + " is in use by another kiseki mount");
  }
  std::unique_ptr<DiskCache> c(new DiskCache(root, capacity, fd));
  c->empty_dirs();
  return c;
}

DiskCache::DiskCache(std::string root, uint64_t capacity, int lock_fd)
    : root_(std::move(root)), capacity_(capacity), lock_fd_(lock_fd) {}

DiskCache::~DiskCache() {
  wipe();
  ::close(lock_fd_);
}

void DiskCache::empty_dirs() {
  std::error_code ec;
  std::filesystem::remove_all(root_ + "/blocks", ec);
  std::filesystem::remove_all(root_ + "/tmp", ec);
  ::mkdir((root_ + "/blocks").c_str(), 0700);
  ::mkdir((root_ + "/tmp").c_str(), 0700);
  char sub[8];
  for (int i = 0; i < 256; ++i) {
    std::snprintf(sub, sizeof(sub), "/%02x", i);
    ::mkdir((root_ + "/blocks" + sub).c_str(), 0700);
  }
}

std::string DiskCache::path_of(const BlockKey& k) const {
  char name[80];
  std::snprintf(name, sizeof(name), "/blocks/%02x/%llx-%llx-%llx", static_cast<unsigned>((k.ino ^ k.index) & 0xff),
                static_cast<unsigned long long>(k.ns), static_cast<unsigned long long>(k.ino),
                static_cast<unsigned long long>(k.index));
  return root_ + name;
}

Block DiskCache::get(const BlockKey& key, const FileVersion& v) {
  {
    std::lock_guard lock(mu_);
    auto it = blocks_.find(key);
    if (it == blocks_.end()) return nullptr;
    if (it->second.version != v) {
      erase(it);
      return nullptr;
    }
    if (!it->second.pinned) lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  std::string path = path_of(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {  // evicted meanwhile, or lost: the index must not keep promising it
    std::lock_guard lock(mu_);
    if (auto it = blocks_.find(key); it != blocks_.end() && it->second.version == v) erase(it, /*keep_file=*/true);
    return nullptr;
  }
  Header h{};
  auto data = std::make_shared<std::string>();
  bool ok = ::pread(fd, &h, sizeof(h), 0) == static_cast<ssize_t>(sizeof(h)) && h.magic == kMagic &&
            h.format == kFormat && h.length <= kBlockSize;
  if (ok) {
    data->resize(h.length);
    ok = ::pread(fd, data->data(), h.length, sizeof(h)) == static_cast<ssize_t>(h.length);
  }
  ::close(fd);
  if (ok && h.ns == key.ns && h.ino == key.ino && h.index == key.index && h.mtime_ns == v.mtime_ns &&
      h.size == v.size && crc_of(h, *data) == h.crc)
    return data;
  corrupt_.fetch_add(1, std::memory_order_relaxed);
  KLOG_WARN("client cache: block {} of inode {} in {} failed its check; removed and read from the server", key.index,
            key.ino, path);
  std::lock_guard lock(mu_);
  if (auto it = blocks_.find(key); it != blocks_.end()) erase(it);
  return nullptr;
}

bool DiskCache::contains(const BlockKey& key, const FileVersion& v, bool pin) {
  std::lock_guard lock(mu_);
  auto it = blocks_.find(key);
  if (it == blocks_.end() || it->second.version != v) return false;
  if (pin && !it->second.pinned) {
    if (pinned_bytes_ + it->second.bytes > capacity_) return false;
    lru_.erase(it->second.lru);
    it->second.pinned = true;
    pinned_bytes_ += it->second.bytes;
  }
  return true;
}

Status DiskCache::put(const BlockKey& key, const FileVersion& v, std::string_view data, bool pinned) {
  uint64_t bytes = sizeof(Header) + data.size();
  {
    std::lock_guard lock(mu_);
    if (auto it = blocks_.find(key); it != blocks_.end()) {
      // Parallel reads of one block each fetch it: the first one's file stays.
      if (it->second.version == v && (it->second.pinned || !pinned)) return Status();
      erase(it);
    }
    if (!make_room(bytes, pinned))
      return pinned ? Status(ErrorCode::kNoSpace, "the client cache is full of pinned blocks") : Status();
    bytes_ += bytes;  // reserved while the file is written
  }
  Header h{kMagic, kFormat, key.ns, key.ino, key.index, v.mtime_ns, v.size, static_cast<uint32_t>(data.size()), 0};
  h.crc = crc_of(h, data);
  std::string tmp = root_ + "/tmp/" + std::to_string(tmp_seq_.fetch_add(1));
  std::string path = path_of(key);
  Status st;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    st = errno_status("client cache " + tmp);
  } else {
    iovec iov[2] = {{&h, sizeof(h)}, {const_cast<char*>(data.data()), data.size()}};
    if (::writev(fd, iov, 2) != static_cast<ssize_t>(bytes)) st = errno_status("client cache write");
    ::close(fd);
    if (st && ::rename(tmp.c_str(), path.c_str()) != 0) st = errno_status("client cache rename");
    if (!st) ::unlink(tmp.c_str());
  }
  std::lock_guard lock(mu_);
  bytes_ -= bytes;
  if (!st) return pinned ? st : Status();  // an organic block not kept is no error
  // A racing put of the same block finished first: the path is ours now.
  if (auto it = blocks_.find(key); it != blocks_.end()) erase(it, /*keep_file=*/true);
  Entry e{v, bytes, pinned, {}};
  bytes_ += bytes;
  if (pinned) {
    pinned_bytes_ += bytes;
  } else {
    lru_.push_front(key);
    e.lru = lru_.begin();
  }
  blocks_.emplace(key, e);
  return Status();
}

bool DiskCache::make_room(uint64_t bytes, bool pinned) {
  if (pinned ? pinned_bytes_ + bytes > capacity_ : bytes > capacity_) return false;
  while (bytes_ + bytes > capacity_ && !lru_.empty()) erase(blocks_.find(lru_.back()));
  return bytes_ + bytes <= capacity_;
}

void DiskCache::forget_file(NamespaceId ns, InodeId ino) {
  std::lock_guard lock(mu_);
  auto it = blocks_.lower_bound(BlockKey{ns, ino, 0});
  while (it != blocks_.end() && it->first.ns == ns && it->first.ino == ino) erase(it++);
}

void DiskCache::wipe() {
  std::lock_guard lock(mu_);
  blocks_.clear();
  lru_.clear();
  bytes_ = pinned_bytes_ = 0;
  empty_dirs();
}

DiskCache::Usage DiskCache::usage() const {
  std::lock_guard lock(mu_);
  return Usage{bytes_, pinned_bytes_, corrupt_.load(std::memory_order_relaxed)};
}

void DiskCache::erase(std::map<BlockKey, Entry>::iterator it, bool keep_file) {
  if (!keep_file) ::unlink(path_of(it->first).c_str());
  bytes_ -= it->second.bytes;
  if (it->second.pinned) pinned_bytes_ -= it->second.bytes;
  else lru_.erase(it->second.lru);
  blocks_.erase(it);
}

}  // namespace kiseki::client
