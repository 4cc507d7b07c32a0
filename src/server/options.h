// kiseki-server's options: defaults < TOML file (--config / KISEKI_CONFIG) <
// KISEKI_* environment < flags.
#pragma once

#include <string>

#include "common/redundancy.h"

#include "common/status.h"
#include "gateway/gateway.h"

namespace kiseki::server {

struct ServerOptions {
  std::string config_file;
  std::string s3_listen = "127.0.0.1:9000";
  std::string admin_listen = "127.0.0.1:9090";
  // PEM files; both set: S3 and the admin API speak HTTPS only (SIGHUP reloads them).
  std::string tls_cert, tls_key;
  bool admin_protect_all = false;  // /metrics, /health, /ready need the token too
  std::string nfs_listen = "127.0.0.1:2049";   // NFSv3, MOUNT and portmapper; "off" disables NFS
  std::string portmap_listen = "127.0.0.1:111";  // portmapper alone on its well-known port; "off"
  std::string nfs_exports;                       // "PATH OPTS; PATH OPTS" (see protocols/nfs/exports.h)
  bool nfs_export_all = true;                    // export every namespace at /<tenant>/<namespace>
  // Namespaces not listed are open to this host only, root included; exports for
  // other hosts are configured (and squash root unless told otherwise).
  std::string nfs_export_defaults = "rw,no_root_squash,clients=127.0.0.0/8";
  uint32_t nfs_workers = 16;
  std::string native_listen = "127.0.0.1:9100";
  std::string s3_region = "us-east-1";
  std::string s3_domain;  // virtual-host style: BUCKET.<s3_domain>
  bool s3_enabled = true;
  uint32_t lifecycle_interval_s = 3600;  // between passes of the S3 lifecycle rules; 0: none
  std::string log_level = "info";
  bool log_json = false;
  std::string log_file;  // empty: stderr; SIGHUP reopens it (logrotate)
  gateway::GatewayOptions gateway;
  // Cluster mode (docs/cluster.md): all of node_id, cluster_listen,
  // initial_cluster and the secret, or none (a single node).
  uint64_t node_id = 0;
  std::string cluster_listen;   // the fabric HOST:PORT; Raft uses PORT + 1
  std::string initial_cluster;  // "1=HOST:PORT,2=HOST:PORT,..."
  std::string join;             // a running node's fabric HOST:PORT (instead of initial_cluster)
  std::string cluster_secret;   // the secret's bytes (from cluster_secret_file or KISEKI_CLUSTER_SECRET)
  uint32_t election_timeout_ms = 1000;
  uint32_t raft_snapshot_entries = 8192;
  bool test_faults = false;
  uint32_t shards = 1;  // metadata shards of a new cluster (ADR 0009)
  // How namespaces made without a policy keep their chunks (S3 buckets).
  Redundancy default_durability = Redundancy::replicas(3);
  std::string failure_domain;       // this node's failure domain (rack, room); empty: its own
  uint32_t capacity_gib = 0;        // placement weight; 0: the data file system's size
  uint32_t repair_interval_ms = 30000;
  double repair_rate_mib = 0;       // 0: no bound
  uint32_t node_lost_after_s = 0;   // 0: nodes are declared lost by an operator only
  bool clustered() const { return node_id != 0; }
};

// Parses argv and the environment. Returns kInvalidArgument with a usage
// message for bad input; `exit_ok` is set when --help or --version was asked.
Result<ServerOptions> parse_options(int argc, char** argv, char** env, bool* exit_ok);

}  // namespace kiseki::server
