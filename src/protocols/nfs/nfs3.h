// NFSv3 (RFC 1813): the 22 procedures over the Gateway. One namespace per
// export; file handles from HandleCodec; every Gateway error mapped by
// nfs3_status(); permission checks on the caller's AUTH_SYS credentials after
// the export's root squash; per-procedure metrics.
#pragma once

#include "common/clock.h"

#include <array>
#include <string>

#include "common/metrics.h"
#include "gateway/gateway.h"
#include "protocols/nfs/exports.h"
#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/rpc_program.h"

namespace kiseki::nfs {

struct Nfs3Options {
  uint32_t max_io = 1 << 20;  // rtmax / wtmax
  const Clock* clock = &SystemClock::instance();  // SETATTR's "set to server time"
};

class Nfs3Service : public RpcProgram {
 public:
  Nfs3Service(gateway::Gateway* gw, const ExportTable* exports, const HandleCodec* handles, Nfs3Options opts);
  uint32_t program() const override { return kProgNfs; }
  uint32_t min_version() const override { return 3; }
  uint32_t max_version() const override { return 3; }
  bool idempotent(uint32_t proc) const override;
  bool may_block(uint32_t proc) const override {
    return !idempotent(proc) || proc == kNfs3Write || proc == kNfs3Commit;
  }
  bool needs_auth_sys(uint32_t) const override { return true; }
  AcceptStat call(const RpcCall& c, std::string* out) override;

  // Changes with every start: clients that see it change resend UNSTABLE writes.
  const std::array<uint8_t, 8>& write_verifier() const { return write_verf_; }

 private:
  struct ProcMetrics {
    Counter* calls;
    Histogram* seconds;
  };
  gateway::Gateway* gw_;
  const ExportTable* exports_;
  const HandleCodec* handles_;
  Nfs3Options opts_;
  std::array<uint8_t, 8> write_verf_{};
  std::array<ProcMetrics, 22> metrics_{};
  Counter* bytes_read_;
  Counter* bytes_written_;
  friend class Nfs3Call;
};

}  // namespace kiseki::nfs
