// The native protocol's server (docs/native-protocol.md): frames of
// net/frame.h on a record server, an access key's HMAC answer to a challenge,
// then the Gateway's file and object operations for the key's tenant.
#pragma once

#include <memory>
#include <string>

#include "gateway/gateway.h"
#include "net/record_server.h"

namespace kiseki::native {

struct NativeServerOptions {
  std::string listen = "127.0.0.1:9100";
  uint32_t workers = 16;
  std::shared_ptr<TlsConfig> tls;  // the server's certificate: every connection is TLS
};

class NativeService;

class NativeServer {
 public:
  static Result<std::unique_ptr<NativeServer>> start(gateway::Gateway* gw, const NativeServerOptions& opts);
  ~NativeServer();
  uint16_t port() const { return server_->port(); }
  void stop();

 private:
  NativeServer() = default;
  std::unique_ptr<NativeService> service_;
  std::unique_ptr<net::RecordServer> server_;
};

}  // namespace kiseki::native
