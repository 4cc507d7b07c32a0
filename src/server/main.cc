// kiseki-server: one process with everything embedded.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <functional>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "protocols/native/native_server.h"
#include "protocols/nfs/nfs_server.h"
#include "protocols/s3/server.h"
#include "server/admin_api.h"
#include "cluster/cluster_node.h"
#include "server/admin_token.h"
#include "server/credentials.h"
#include "server/data_lock.h"
#include "server/http_server.h"
#include "server/options.h"
#include "server/stats_history.h"

extern char** environ;

using namespace kiseki;

namespace {

constexpr const char* kVersion = "kiseki-server 0.1.0";

std::string host_of(const std::string& listen) {
  auto hp = parse_host_port(listen);
  return hp ? hp->first : listen;
}

// Printed on stdout at every start: where to go next.
void print_banner(const server::ServerInfo& info, const std::string& data_dir, bool nfs) {
  std::printf("\nKiseki is ready (data in %s).\n", data_dir.c_str());
  for (const auto& [what, where] : info.endpoints) std::printf("  %-10s %s\n", what.c_str(), where.c_str());
  std::printf("  S3 credentials: %s/credentials (an AWS credentials file: AWS_SHARED_CREDENTIALS_FILE=%s/credentials)\n",
              data_dir.c_str(), data_dir.c_str());
  std::printf("  admin token:    %s/admin-token (the console's sign-in; the kiseki CLI reads it)\n", data_dir.c_str());
  if (nfs) std::printf("  NFS exports:    /<tenant>/<namespace>, e.g. /default/<bucket>\n");
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes first makes a write fail with EPIPE, never kills the
  // server (OpenSSL writes to TLS sockets without MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  // Chunk-sized buffers (sealed chunks, fragments, request bodies up to a few
  // MiB) come from the heap and are reused: above glibc's mmap threshold each
  // would be a fresh mapping, faulted in and zeroed page by page. (Builds
  // without sanitizers link tcmalloc, which keeps freed spans itself: these
  // settings are for glibc's malloc where it is the allocator.)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  bool exit_ok = false;
  auto opts = server::parse_options(argc, argv, environ, &exit_ok);
  if (!opts) {
    if (exit_ok) return 0;
    std::fprintf(stderr, "kiseki-server: %s\n", opts.status().message().c_str());
    return 2;
  }
  if (Status st = init_logging(opts->log_level, opts->log_json, opts->log_file); !st) {
    std::fprintf(stderr, "kiseki-server: %s\n", st.message().c_str());
    return 2;
  }
  KLOG_INFO("kiseki-server starting data_dir={} durability={}", opts->gateway.data_dir,
            durability_name(opts->gateway.durability));
  auto lock = server::DataLock::acquire(opts->gateway.data_dir);
  if (!lock) {
    KLOG_ERROR("{}", lock.status().message());
    return 1;
  }
  std::unique_ptr<cluster::ClusterNode> node;
  if (opts->clustered()) {
    cluster::ClusterOptions co;
    co.node_id = opts->node_id;
    co.listen = opts->cluster_listen;
    co.secret = opts->cluster_secret;
    co.data_dir = opts->gateway.data_dir;
    co.election_timeout_ms = opts->election_timeout_ms;
    co.snapshot_threshold = opts->raft_snapshot_entries;
    co.snapshot_trailing = std::max(8u, opts->raft_snapshot_entries / 4);
    co.join = opts->join;
    co.shards = opts->shards;
    co.default_redundancy = opts->default_durability;
    co.failure_domain = opts->failure_domain;
    co.weight = opts->capacity_gib;  // 0: the node measures its data file system
    co.repair_interval_ms = opts->repair_interval_ms;
    co.repair_rate_mib = opts->repair_rate_mib;
    co.node_lost_after_s = opts->node_lost_after_s;
    if (co.join.empty()) {
      auto members = cluster::parse_initial_cluster(opts->initial_cluster);
      if (!members) {
        KLOG_ERROR("{}", members.status().message());
        return 2;
      }
      co.members = std::move(*members);
    }
    auto n = cluster::ClusterNode::start(co);
    if (!n) {
      KLOG_ERROR("cluster: {}", n.status().message());
      return 1;
    }
    node = std::move(*n);
    opts->gateway.replication = node.get();
  }
  auto gw = gateway::Gateway::open(opts->gateway);
  if (!gw) {
    KLOG_ERROR("cannot open the store: {}", gw.status().to_string());
    return 1;
  }
  Status st = server::ensure_root_credentials(gw->get(), opts->gateway.data_dir,
                                              std::getenv("KISEKI_ROOT_ACCESS_KEY"),
                                              std::getenv("KISEKI_ROOT_SECRET_KEY"), node != nullptr);
  if (!st) {
    KLOG_ERROR("cannot set up root credentials: {}", st.to_string());
    return 1;
  }

  // In a cluster the admin tokens are the cluster's (made once, in its
  // replicated state): every node's files hold the same ones.
  std::string cluster_admin, cluster_readonly;
  const char* admin_env = std::getenv("KISEKI_ADMIN_TOKEN");
  const char* readonly_env = std::getenv("KISEKI_ADMIN_READONLY_TOKEN");
  if (node) {
    auto a = (*gw)->cluster_secret("admin-token", 24);
    auto r = a ? (*gw)->cluster_secret("admin-token-readonly", 24) : a;
    if (!r) {
      KLOG_ERROR("cannot set up the cluster's admin tokens: {}", r.status().to_string());
      return 1;
    }
    cluster_admin = "ksa_" + to_hex(as_bytes(*a));
    cluster_readonly = "ksr_" + to_hex(as_bytes(*r));
    if (!admin_env || !*admin_env) admin_env = cluster_admin.c_str();
    if (!readonly_env || !*readonly_env) readonly_env = cluster_readonly.c_str();
  }
  auto token = server::ensure_admin_tokens(opts->gateway.data_dir, admin_env, readonly_env);
  if (!token) {
    KLOG_ERROR("cannot set up the admin token: {}", token.status().to_string());
    return 1;
  }

  std::unique_ptr<nfs::NfsServer> nfssrv;
  if (opts->nfs_listen != "off") {
    nfs::NfsServerOptions no;
    no.listen = opts->nfs_listen;
    no.portmap_listen = opts->portmap_listen;
    no.exports = opts->nfs_exports;
    no.export_all = opts->nfs_export_all;
    no.export_defaults = opts->nfs_export_defaults;
    no.workers = opts->nfs_workers;
    no.clock = &opts->gateway.env->clock();
    auto n = nfs::NfsServer::start(gw->get(), no);
    if (!n) {
      KLOG_ERROR("NFS: {}", n.status().to_string());
      return 1;
    }
    nfssrv = std::move(*n);
    if (opts->portmap_listen == "off")
      KLOG_INFO("NFSv3 and MOUNT on {} (port {}), portmapper off", opts->nfs_listen, nfssrv->port());
    else
      KLOG_INFO("NFSv3 and MOUNT on {} (port {}), portmapper on port {}", opts->nfs_listen, nfssrv->port(),
                nfssrv->portmap_port());
  }

  std::shared_ptr<TlsConfig> tls;
  if (!opts->tls_cert.empty()) {
    auto t = TlsConfig::load(opts->tls_cert, opts->tls_key);
    if (!t) {
      KLOG_ERROR("TLS: {}", t.status().to_string());
      return 1;
    }
    tls = *t;
  }

  std::unique_ptr<native::NativeServer> nativesrv;
  if (opts->native_listen != "off") {
    native::NativeServerOptions no;
    no.listen = opts->native_listen;
    no.tls = tls;
    auto n = native::NativeServer::start(gw->get(), no);
    if (!n) {
      KLOG_ERROR("native protocol: {}", n.status().to_string());
      return 1;
    }
    nativesrv = std::move(*n);
    KLOG_INFO("native protocol{} on {} (port {})", tls ? " over TLS" : "", opts->native_listen, nativesrv->port());
  }

  boost::asio::io_context io(1);
  boost::asio::signal_set hup(io, SIGHUP);
  server::AdminApi admin(gw->get(), nfssrv ? nfssrv->exports() : nullptr);
  server::HttpServerOptions ho;
  ho.listen = opts->admin_listen;
  ho.tls = tls;
  auto http = server::HttpServer::bind(io, ho, [&admin](const server::Request& r) { return admin.handle(r); });
  if (!http) {
    KLOG_ERROR("admin HTTP: {}", http.status().to_string());
    return 1;
  }
  admin.protect(std::make_unique<server::AdminGuard>(*token, (*http)->port()), opts->admin_protect_all);
  if (node) admin.set_cluster(node.get(), opts->test_faults);
  std::unique_ptr<s3::S3Server> s3srv;
  std::unique_ptr<s3::LifecycleWorker> lifecycle;
  if (opts->s3_enabled) {
    s3::S3ServerOptions so;
    so.listen = opts->s3_listen;
    so.s3.region = opts->s3_region;
    so.s3.domain = opts->s3_domain;
    so.s3.clock = &opts->gateway.env->clock();
    so.s3.https = tls != nullptr;
    so.tls = tls;
    auto s3 = s3::S3Server::start(gw->get(), so);
    if (!s3) {
      KLOG_ERROR("S3: {}", s3.status().to_string());
      return 1;
    }
    s3srv = std::move(*s3);
    lifecycle = std::make_unique<s3::LifecycleWorker>(gw->get(), so.s3.clock,
                                                      std::chrono::seconds(opts->lifecycle_interval_s));
    admin.set_lifecycle(lifecycle.get(), opts->test_faults);
    KLOG_INFO("S3 {} on {} (port {})", tls ? "HTTPS" : "HTTP", opts->s3_listen, s3srv->port());
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    KLOG_INFO("signal {}: shutting down", sig);
    (*http)->stop();
    hup.cancel();
    io.stop();
  });
  // SIGHUP: reopen the log file (logrotate) and reload the TLS certificate and
  // key (a renewed certificate).
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (Status st = reopen_log_file(); !st) std::fprintf(stderr, "kiseki-server: SIGHUP: %s\n", st.message().c_str());
      else if (!opts->log_file.empty()) KLOG_INFO("SIGHUP: log file {} reopened", opts->log_file);
      if (tls) {
        Status st = tls->reload();
        if (st.is_ok()) KLOG_INFO("SIGHUP: TLS certificate reloaded from {}", opts->tls_cert);
        else KLOG_ERROR("SIGHUP: TLS certificate not reloaded, the old one stays: {}", st.to_string());
      }
      wait_hup();
    });
  };
  wait_hup();
  server::StatsHistory stats(&MetricsRegistry::global(), 2000, 300);  // ten minutes for the console
  Gauge* disk_total = MetricsRegistry::global().gauge("kiseki_disk_total_bytes", "Size of the data directory's file system");
  Gauge* disk_avail = MetricsRegistry::global().gauge("kiseki_disk_avail_bytes", "Bytes available to the server on it");
  auto update_disk = [&] {
    if (auto f = (*gw)->statfs()) {
      disk_total->set(static_cast<int64_t>(f->total_bytes));
      disk_avail->set(static_cast<int64_t>(f->avail_bytes));
    }
  };
  update_disk();
  stats.on_sample(update_disk);
  stats.start();
  admin.set_stats(&stats);
  std::string scheme = tls ? "https://" : "http://";
  std::string admin_url = scheme + host_of(opts->admin_listen) + ":" + std::to_string((*http)->port());
  server::ServerInfo info{kVersion, std::string(durability_name(opts->gateway.durability)), {}};
  if (s3srv) info.endpoints.emplace_back("S3", scheme + host_of(opts->s3_listen) + ":" + std::to_string(s3srv->port()));
  if (nfssrv) info.endpoints.emplace_back("NFSv3", host_of(opts->nfs_listen) + ":" + std::to_string(nfssrv->port()));
  if (node) info.endpoints.emplace_back("cluster", opts->cluster_listen + " (node " + std::to_string(opts->node_id) + ")");
  if (nativesrv)
    info.endpoints.emplace_back("native", host_of(opts->native_listen) + ":" + std::to_string(nativesrv->port()));
  info.endpoints.emplace_back("admin API", admin_url);
  info.endpoints.emplace_back("console", admin_url + "/ui");
  admin.set_info(info);
  admin.set_ready(true);
  KLOG_INFO("admin {} on {} (port {})", tls ? "HTTPS" : "HTTP", opts->admin_listen, (*http)->port());
  print_banner(info, opts->gateway.data_dir, nfssrv != nullptr);
  io.run();
  if (s3srv) s3srv->stop();
  if (nfssrv) nfssrv->stop();
  if (nativesrv) nativesrv->stop();
  http->reset();
  lifecycle.reset();  // its pass, if one runs, ends before the store closes
  if (node) node->stop();
  gw->reset();  // flushes and closes the store
  KLOG_INFO("kiseki-server stopped");
  return 0;
}
