#include "meta/env_fs.h"

namespace kiseki::meta {

namespace {

rocksdb::IOStatus to_io(const Status& st) {
  if (st.is_ok()) return rocksdb::IOStatus::OK();
  if (st.code() == ErrorCode::kNoSpace) return rocksdb::IOStatus::NoSpace(st.message());
  if (st.code() == ErrorCode::kCorruption) return rocksdb::IOStatus::Corruption(st.message());
  return rocksdb::IOStatus::IOError(st.message());
}

class CheckedRandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  CheckedRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> f, const Env& env, std::string path)
      : FSRandomAccessFileOwnerWrapper(std::move(f)), env_(env), path_(std::move(path)) {}
  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result,
                         char* scratch, rocksdb::IODebugContext* dbg) const override {
    if (auto st = to_io(env_.check(FileOp::kRead, path_)); !st.ok()) return st;
    return target()->Read(offset, n, o, result, scratch, dbg);
  }
  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kRead, path_)); !st.ok()) return st;
    return target()->MultiRead(reqs, num, o, dbg);
  }

 private:
  const Env& env_;
  std::string path_;
};

class CheckedWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  CheckedWritableFile(std::unique_ptr<rocksdb::FSWritableFile> f, const Env& env, std::string path)
      : FSWritableFileOwnerWrapper(std::move(f)), env_(env), path_(std::move(path)) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kWrite, path_)); !st.ok()) return st;
    return target()->Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kWrite, path_)); !st.ok()) return st;
    return target()->Append(data, o, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kSync, path_)); !st.ok()) return st;
    return target()->Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kSync, path_)); !st.ok()) return st;
    return target()->Fsync(o, dbg);
  }

 private:
  const Env& env_;
  std::string path_;
};

class CheckedDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  CheckedDirectory(std::unique_ptr<rocksdb::FSDirectory> d, const Env& env, std::string path)
      : FSDirectoryWrapper(std::move(d)), env_(env), path_(std::move(path)) {}
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kSyncDir, path_)); !st.ok()) return st;
    return FSDirectoryWrapper::Fsync(o, dbg);
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& d) override {
    if (auto st = to_io(env_.check(FileOp::kSyncDir, path_)); !st.ok()) return st;
    return FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, d);
  }

 private:
  const Env& env_;
  std::string path_;
};

class EnvFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit EnvFileSystem(const Env& env) : FileSystemWrapper(rocksdb::FileSystem::Default()), env_(env) {}
  const char* Name() const override { return "KisekiEnvFileSystem"; }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& fo,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kOpen, f)); !st.ok()) return st;
    std::unique_ptr<rocksdb::FSRandomAccessFile> base;
    auto st = target()->NewRandomAccessFile(f, fo, &base, dbg);
    if (st.ok()) *r = std::make_unique<CheckedRandomAccessFile>(std::move(base), env_, f);
    return st;
  }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kOpen, f)); !st.ok()) return st;
    std::unique_ptr<rocksdb::FSWritableFile> base;
    auto st = target()->NewWritableFile(f, fo, &base, dbg);
    if (st.ok()) *r = std::make_unique<CheckedWritableFile>(std::move(base), env_, f);
    return st;
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io,
                                 std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> base;
    auto st = target()->NewDirectory(name, io, &base, dbg);
    if (st.ok()) *r = std::make_unique<CheckedDirectory>(std::move(base), env_, name);
    return st;
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check_rename(from, to)); !st.ok()) return st;
    return target()->RenameFile(from, to, o, dbg);
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    if (auto st = to_io(env_.check(FileOp::kRemove, f)); !st.ok()) return st;
    return target()->DeleteFile(f, o, dbg);
  }

 private:
  const Env& env_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> make_env_file_system(const Env& env) {
  return std::make_shared<EnvFileSystem>(env);
}

}  // namespace kiseki::meta
