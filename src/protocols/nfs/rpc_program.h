// An ONC RPC program as the dispatcher sees it: a number, a version range and
// one function per call. Programs append their results to the reply; they never
// see sockets, record marking or the duplicate request cache.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/record.h"
#include "protocols/nfs/rpc.h"

namespace kiseki::nfs {

using ClientInfo = net::Peer;

struct RpcCall {
  const CallHeader& hdr;
  std::string_view args;
  const ClientInfo& client;
  // Where a program may leave bulk data as slices after its results (a READ's
  // file data, sent without a copy); null: everything goes into the reply.
  net::Reply* bulk = nullptr;
};

class RpcProgram {
 public:
  virtual ~RpcProgram() = default;
  virtual uint32_t program() const = 0;
  virtual uint32_t min_version() const = 0;
  virtual uint32_t max_version() const = 0;
  // Calls whose repetition would change the answer go through the duplicate
  // request cache.
  virtual bool idempotent(uint32_t /*proc*/) const { return true; }
  // Calls that may wait on the disk (a synced commit): the server does not run
  // them on a connection's reader thread while more calls are arriving.
  virtual bool may_block(uint32_t proc) const { return !idempotent(proc); }
  // Calls other than NULL may demand AUTH_SYS (AUTH_TOOWEAK otherwise).
  virtual bool needs_auth_sys(uint32_t /*proc*/) const { return false; }
  // Appends the results to `out` and returns kSuccess, or returns the failure
  // (kProcUnavail, kGarbageArgs, kSystemErr) with `out` left as it may be.
  virtual AcceptStat call(const RpcCall& c, std::string* out) = 0;
};

}  // namespace kiseki::nfs
