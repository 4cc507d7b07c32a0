#include "protocols/native/native_server.h"

#include "protocols/native/native_service.h"

namespace kiseki::native {

Result<std::unique_ptr<NativeServer>> NativeServer::start(gateway::Gateway* gw, const NativeServerOptions& opts) {
  std::unique_ptr<NativeServer> s(new NativeServer());
  s->service_ = std::make_unique<NativeService>(gw);
  net::RecordServerOptions ro;
  ro.listen = opts.listen;
  ro.workers = opts.workers;
  ro.tls = opts.tls;
  ro.name = "native";
  KISEKI_ASSIGN_OR_RETURN(s->server_, net::RecordServer::start(s->service_.get(), ro));
  return s;
}

NativeServer::~NativeServer() { stop(); }

void NativeServer::stop() {
  if (server_) server_->stop();
}

}  // namespace kiseki::native
