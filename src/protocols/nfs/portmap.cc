#include "protocols/nfs/portmap.h"

#include <vector>

#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

namespace {
struct Mapping {
  uint32_t prog, vers, prot, port;
};
}  // namespace

AcceptStat PortmapService::call(const RpcCall& c, std::string* out) {
  XdrDecoder in(c.args);
  XdrEncoder enc(out);
  std::vector<Mapping> maps = {{kProgPortmap, 2, kIpProtoTcp, portmap_port_ ? portmap_port_.load() : nfs_port_.load()},
                               {kProgNfs, 3, kIpProtoTcp, nfs_port_},
                               {kProgMount, 3, kIpProtoTcp, nfs_port_}};
  switch (c.hdr.proc) {
    case kPmapNull:
      break;
    case kPmapSet:
    case kPmapUnset:
      for (int i = 0; i < 4; ++i) in.u32();
      enc.boolean(false);
      break;
    case kPmapGetport: {
      Mapping want{in.u32(), in.u32(), in.u32(), in.u32()};
      uint32_t port = 0;
      for (const auto& m : maps)
        if (m.prog == want.prog && m.vers == want.vers && m.prot == want.prot) port = m.port;
      enc.u32(port);
      break;
    }
    case kPmapDump:
      for (const auto& m : maps) enc.boolean(true).u32(m.prog).u32(m.vers).u32(m.prot).u32(m.port);
      enc.boolean(false);
      break;
    default:
      return AcceptStat::kProcUnavail;  // CALLIT is a UDP broadcast tool; not offered
  }
  return in.ok() && in.done() ? AcceptStat::kSuccess : AcceptStat::kGarbageArgs;
}

}  // namespace kiseki::nfs
