// libkiseki's C++ API: the native protocol (docs/native-protocol.md) over a
// pool of connections. Calls from many threads are pipelined on the pool; a
// connection that breaks is replaced (authenticated again, its namespaces
// mounted again) and the calls that were on it are sent again, for as long as
// `retry_for` allows. Sending again is safe for every call: reads change
// nothing, and every mutation carries a request id the server applies once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/connection.h"
#include "gateway/types.h"
#include "protocols/native/wire.h"

namespace kiseki::client {

using gateway::Caller;
using gateway::DirEntryPlus;
using gateway::FileAttr;
using gateway::ObjectInfo;
using net::Connection;

struct ClientOptions {
  std::string endpoint = "127.0.0.1:9100";
  std::string access_key;
  std::string secret_key;
  size_t connections = 4;
  std::chrono::milliseconds deadline{30000};  // per call
  // How long calls keep being sent again while the server cannot be reached.
  std::chrono::milliseconds retry_for{60000};
  // Called when the server refuses the key on a reconnect (the key deleted,
  // the tenant shredded): a mount wipes its cache.
  std::function<void(const Status&)> on_refused;
  // TLS to a server with a certificate, verified against `ca_file` (PEM), or
  // the system's CAs when empty; the name or address of `endpoint` must match.
  bool tls = false;
  std::string ca_file;
};

struct Mounted {
  NamespaceId ns = 0;
  FileAttr root;
};

class Client {
 public:
  // Connects and authenticates once (a wrong key fails here).
  static Result<std::unique_ptr<Client>> connect(const ClientOptions& opts);

  TenantId tenant() const { return tenant_; }
  const std::string& tenant_name() const { return tenant_name_; }
  Status ping();
  Result<Mounted> mount(std::string_view ns_name);

  // ---- files (POSIX: the Gateway's calls; `who` as the FUSE request gives it)
  Result<FileAttr> lookup(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who);
  Result<FileAttr> getattr(NamespaceId ns, InodeId ino);
  Result<FileAttr> setattr(NamespaceId ns, InodeId ino, const gateway::SetAttrRequest& req, const Caller& who);
  Result<FileAttr> create(NamespaceId ns, InodeId parent, std::string_view name, uint32_t mode, bool exclusive,
                          const Caller& who);
  Result<FileAttr> mkdir(NamespaceId ns, InodeId parent, std::string_view name, uint32_t mode, const Caller& who);
  Status mknod(NamespaceId ns, const Caller& who);
  Status unlink(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who);
  Status rmdir(NamespaceId ns, InodeId parent, std::string_view name, const Caller& who);
  Status rename(NamespaceId ns, InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name, const Caller& who, bool no_replace = false);
  Result<FileAttr> link(NamespaceId ns, InodeId ino, InodeId new_parent, std::string_view new_name,
                        const Caller& who);
  Result<FileAttr> symlink(NamespaceId ns, InodeId parent, std::string_view name, std::string_view target,
                           const Caller& who);
  Result<std::string> readlink(NamespaceId ns, InodeId ino, const Caller& who);
  Result<std::vector<DirEntryPlus>> readdirplus(NamespaceId ns, InodeId dir, uint64_t cookie, uint32_t max,
                                                const Caller& who);
  Result<FileAttr> open(NamespaceId ns, InodeId ino, uint32_t flags, const Caller& who);
  // Up to `length` bytes at `offset` (any length: split into frames of kMaxIo).
  Result<std::string> read(NamespaceId ns, InodeId ino, uint64_t offset, uint64_t length, const Caller& who);
  Result<FileAttr> write(NamespaceId ns, InodeId ino, uint64_t offset, std::string_view data, bool stable,
                         const Caller& who);
  Status fsync(NamespaceId ns, InodeId ino, const Caller& who);
  Result<gateway::FsStats> statfs(NamespaceId ns, const Caller& who);

  // ---- objects (S3 semantics; a key is a path)
  Result<ObjectInfo> put_object(NamespaceId ns, std::string_view key, std::string_view body,
                                const gateway::ObjectMeta& meta = {});
  // `length` absent: to the end. The object's info in `*info` if given.
  Result<std::string> get_object(NamespaceId ns, std::string_view key, uint64_t offset,
                                 std::optional<uint64_t> length, ObjectInfo* info = nullptr);
  Result<ObjectInfo> head_object(NamespaceId ns, std::string_view key);
  Status delete_object(NamespaceId ns, std::string_view key);
  Result<gateway::ListResult> list_objects(NamespaceId ns, const gateway::ListRequest& req);

  // The error of an answer that does not decode (kIoError).
  static Status malformed_answer();

 private:
  explicit Client(const ClientOptions& o);
  // Sends one call, on a working connection, again while it fails with
  // kUnavailable (within retry_for).
  Result<std::string> call(native::Op op, std::string_view payload);
  Result<std::shared_ptr<Connection>> connection();
  Result<std::shared_ptr<Connection>> dial();
  // `who` with a fresh request id when the call is a mutation.
  Caller stamped(const Caller& who);
  std::string file_args(NamespaceId ns, const Caller& who, bool mutation);
  Result<FileAttr> attr_call(native::Op op, const std::string& payload);

  ClientOptions opts_;
  std::shared_ptr<SSL_CTX> tls_;  // with opts_.tls
  uint64_t client_id_;
  std::atomic<uint64_t> seq_{1};
  std::atomic<size_t> next_{0};
  TenantId tenant_ = 0;
  std::string tenant_name_;
  std::mutex mu_;  // guards conns_, mounted_
  std::vector<std::shared_ptr<Connection>> conns_;
  std::map<std::string, NamespaceId, std::less<>> mounted_;
};

}  // namespace kiseki::client
