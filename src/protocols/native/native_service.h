// One native frame in, one answer out: the session's authentication and the
// dispatch of operations onto the Gateway. No sockets (tests feed it frames).
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "common/bytes.h"
#include "gateway/gateway.h"
#include "net/record.h"
#include "protocols/native/wire.h"

namespace kiseki::native {

struct NativeSession : net::Session {
  std::mutex mu;  // guards everything below
  std::string key_id;
  std::string challenge;  // of the last kHello, used once
  bool authenticated = false;
  TenantId tenant = 0;
  std::set<NamespaceId> mounted;  // the namespaces this session may name
};

class NativeService : public net::RecordService {
 public:
  explicit NativeService(gateway::Gateway* gw) : gw_(gw) {}
  std::unique_ptr<net::RecordReader> reader() const override;
  std::unique_ptr<net::Session> connected(const net::Peer& peer) override;
  std::optional<std::string> handle(std::string_view record, net::Session& session,
                                    std::chrono::milliseconds waited) override;
  // kRead and kGetObject leave the opened chunks they read as the reply's tail.
  bool answer(std::string_view record, net::Session& session, std::chrono::milliseconds waited,
              net::Reply* out) override;
  bool may_block(std::string_view record) const override;

 private:
  // `bulk`: the reply, whose tail file data may go to as slices after `out`.
  Status dispatch(Op op, Decoder& in, NativeSession& s, std::string* out, net::Reply* bulk);
  Status hello(Decoder& in, NativeSession& s, std::string* out);
  Status auth(Decoder& in, NativeSession& s, std::string* out);
  Status mount(Decoder& in, NativeSession& s, std::string* out);
  // The namespace a request names, if this session mounted it.
  Result<gateway::NsRef> ns_of(Decoder& in, NativeSession& s);
  Status file_op(Op op, Decoder& in, gateway::NsRef ns, const gateway::Caller& who, Encoder& out,
                 net::Reply* bulk);
  Status object_op(Op op, Decoder& in, gateway::NsRef ns, Encoder& out, net::Reply* bulk);

  gateway::Gateway* gw_;
};

}  // namespace kiseki::native
