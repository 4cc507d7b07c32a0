// The driver interface of kiseki-profile: one way to talk to a storage system.
// A driver opens one Session per worker (a connection, a file handle cache…);
// sessions are used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/status.h"

namespace kiseki::profile {

struct DriverOptions {
  std::string endpoint;    // s3: http://HOST:PORT; nfs3: nfs://HOST/EXPORT?nfsport=P&mountport=M&version=3;
                           // native: HOST:PORT
  std::string access_key;
  std::string secret_key;
  std::string bucket = "profile";
  std::string region = "us-east-1";
  std::string path;        // fs: the mounted directory
  std::string data_dir;    // inprocess: where the throwaway store lives
  bool nfs_dircache = false;  // nfs3: libnfs's directory cache (off: every listing and lookup reaches the server)
  bool fs_fsync = false;       // fs: fsync each file before closing it (a durable PUT)
  bool fs_drop_cache = false;  // fs: drop the file's page cache before each read (a cold GET)
};

class Session {
 public:
  virtual ~Session() = default;
  virtual Status put(const std::string& key, ByteSpan data) = 0;
  // Reads the whole object; returns its size.
  virtual Result<uint64_t> get(const std::string& key) = 0;
  virtual Status stat(const std::string& key) = 0;
  // Lists up to 1000 names under `prefix`; returns how many.
  virtual Result<size_t> list(const std::string& prefix) = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // Prepares the target (bucket, directory); called once before any session.
  virtual Status setup() = 0;
  virtual Result<std::unique_ptr<Session>> session() = 0;
};

Result<std::unique_ptr<Driver>> make_driver(const std::string& name, const DriverOptions& opts);
std::unique_ptr<Driver> make_nfs3_driver(const DriverOptions& opts);    // nfs3_driver.cc
std::unique_ptr<Driver> make_native_driver(const DriverOptions& opts);  // native_driver.cc

}  // namespace kiseki::profile
