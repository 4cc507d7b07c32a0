// ONC RPC's dispatcher: turns one record into one reply (programs, versions,
// authentication, duplicate request cache) for the record server
// (net/record_server.h).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/record_server.h"
#include "protocols/nfs/drc.h"
#include "protocols/nfs/rpc_program.h"

namespace kiseki::nfs {

class RpcDispatcher : public net::RecordService {
 public:
  void add(RpcProgram* p) { programs_[p->program()] = p; }
  std::unique_ptr<net::RecordReader> reader() const override { return std::make_unique<RecordReader>(); }
  // The framed reply (record mark included) to one record, or nullopt when RFC
  // 5531 gives no reply (an unparsable message, a REPLY, a resend in progress).
  std::optional<std::string> handle(std::string_view record, net::Session& session,
                                    std::chrono::milliseconds waited) override;
  // The same, a READ's file data left as slices of opened chunks.
  bool answer(std::string_view record, net::Session& session, std::chrono::milliseconds waited,
              net::Reply* out) override;
  std::optional<std::string> handle(std::string_view record, const ClientInfo& client) {
    net::Session s;
    s.peer = client;
    return handle(record, s, std::chrono::milliseconds(0));
  }
  // Whether the call in `record` may wait on the disk (see RpcProgram::may_block);
  // false for what does not parse (it is answered at once).
  bool may_block(std::string_view record) const override;

 private:
  std::map<uint32_t, RpcProgram*> programs_;
  DuplicateRequestCache drc_;
};

}  // namespace kiseki::nfs
