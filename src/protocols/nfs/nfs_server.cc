#include "protocols/nfs/nfs_server.h"

#include "common/logging.h"

namespace kiseki::nfs {

Result<std::unique_ptr<NfsServer>> NfsServer::start(gateway::Gateway* gw, const NfsServerOptions& opts) {
  std::unique_ptr<NfsServer> s(new NfsServer());
  KISEKI_ASSIGN_OR_RETURN(HandleCodec codec, HandleCodec::open(gw));
  s->handles_ = std::make_unique<HandleCodec>(codec);
  KISEKI_ASSIGN_OR_RETURN(ExportOptions defaults, parse_export_options(opts.export_defaults));
  s->exports_ = std::make_unique<ExportTable>(gw, opts.export_all, defaults);
  KISEKI_TRY(s->exports_->load(opts.exports));
  s->nfs3_ = std::make_unique<Nfs3Service>(gw, s->exports_.get(), s->handles_.get(), Nfs3Options{1 << 20, opts.clock});
  s->mount_ = std::make_unique<MountService>(gw, s->exports_.get(), s->handles_.get());
  s->dispatcher_.add(s->nfs3_.get());
  s->dispatcher_.add(s->mount_.get());
  s->dispatcher_.add(&s->pmap_);
  s->pmap_dispatcher_.add(&s->pmap_);
  net::RecordServerOptions ro;
  ro.listen = opts.listen;
  ro.workers = opts.workers;
  KISEKI_ASSIGN_OR_RETURN(s->nfs_, net::RecordServer::start(&s->dispatcher_, ro));
  if (opts.portmap_listen != "off") {
    net::RecordServerOptions po;
    po.listen = opts.portmap_listen;
    po.workers = 1;
    po.name = "portmap";
    auto pm = net::RecordServer::start(&s->pmap_dispatcher_, po);
    if (pm) {
      s->portmap_ = std::move(*pm);
    } else {
      // Port 111 needs root (or CAP_NET_BIND_SERVICE): NFS still works for
      // clients told the ports, as MOUNT and the portmapper also answer there.
      KLOG_WARN("portmapper on {}: {}; clients must be given the NFS and MOUNT port {}", opts.portmap_listen,
                pm.status().message(), s->nfs_->port());
    }
  }
  s->pmap_.set_ports(s->nfs_->port(), s->portmap_port());
  return s;
}

NfsServer::~NfsServer() { stop(); }

void NfsServer::stop() {
  if (portmap_) portmap_->stop();
  if (nfs_) nfs_->stop();
}

}  // namespace kiseki::nfs
