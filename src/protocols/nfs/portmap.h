// Portmapper v2 (RFC 1833): answers GETPORT and DUMP for the programs this
// server carries. Other services cannot register (SET and UNSET answer false).
#pragma once

#include <atomic>

#include "protocols/nfs/rpc_program.h"

namespace kiseki::nfs {

class PortmapService : public RpcProgram {
 public:
  uint32_t program() const override { return 100000; }
  uint32_t min_version() const override { return 2; }
  uint32_t max_version() const override { return 2; }
  AcceptStat call(const RpcCall& c, std::string* out) override;

  // Ports known once the listeners are bound.
  void set_ports(uint16_t nfs, uint16_t portmap) {
    nfs_port_ = nfs;
    portmap_port_ = portmap;
  }

 private:
  std::atomic<uint16_t> nfs_port_{0}, portmap_port_{0};
};

}  // namespace kiseki::nfs
