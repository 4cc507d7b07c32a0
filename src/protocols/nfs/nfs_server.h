// Everything NFS in one object for kiseki-server: the export table, the handle
// codec, NFSv3 + MOUNT + portmapper on the NFS port, and the portmapper alone
// on its well-known port (111 unless configured; "off" to skip).
#pragma once

#include "common/clock.h"

#include <memory>
#include <string>

#include "gateway/gateway.h"
#include "protocols/nfs/exports.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/mount.h"
#include "protocols/nfs/nfs3.h"
#include "protocols/nfs/portmap.h"
#include "net/record_server.h"
#include "protocols/nfs/rpc_dispatcher.h"

namespace kiseki::nfs {

struct NfsServerOptions {
  std::string listen = "127.0.0.1:2049";
  std::string portmap_listen = "127.0.0.1:111";
  std::string exports;  // config syntax, see exports.h
  bool export_all = true;
  std::string export_defaults = "rw,no_root_squash,clients=127.0.0.0/8";
  uint32_t workers = 16;
  const Clock* clock = &SystemClock::instance();
};

class NfsServer {
 public:
  static Result<std::unique_ptr<NfsServer>> start(gateway::Gateway* gw, const NfsServerOptions& opts);
  ~NfsServer();
  void stop();
  uint16_t port() const { return nfs_->port(); }
  uint16_t portmap_port() const { return portmap_ ? portmap_->port() : 0; }
  ExportTable* exports() { return exports_.get(); }

 private:
  NfsServer() = default;
  std::unique_ptr<HandleCodec> handles_;
  std::unique_ptr<ExportTable> exports_;
  std::unique_ptr<Nfs3Service> nfs3_;
  std::unique_ptr<MountService> mount_;
  PortmapService pmap_;
  RpcDispatcher dispatcher_, pmap_dispatcher_;
  std::unique_ptr<net::RecordServer> nfs_, portmap_;
};

}  // namespace kiseki::nfs
