// MOUNT v3 (RFC 1813 appendix I): hands out the root handle of an export (or of
// a directory inside one), lists exports and remembers who mounted what.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "gateway/gateway.h"
#include "protocols/nfs/exports.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/rpc_program.h"

namespace kiseki::nfs {

class MountService : public RpcProgram {
 public:
  MountService(gateway::Gateway* gw, const ExportTable* exports, const HandleCodec* handles)
      : gw_(gw), exports_(exports), handles_(handles) {}
  uint32_t program() const override { return 100005; }
  uint32_t min_version() const override { return 3; }
  uint32_t max_version() const override { return 3; }
  AcceptStat call(const RpcCall& c, std::string* out) override;

 private:
  uint32_t mnt(const RpcCall& c, std::string_view path, std::string* fh);

  gateway::Gateway* gw_;
  const ExportTable* exports_;
  const HandleCodec* handles_;
  std::mutex mu_;  // guards mounts_
  std::set<std::pair<std::string, std::string>> mounts_;  // (client address, path)
};

}  // namespace kiseki::nfs
