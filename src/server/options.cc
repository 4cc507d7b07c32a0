#include "server/options.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <set>

#include "common/config.h"
#include "common/file_util.h"
#include "common/host_port.h"
#include "protocols/nfs/exports.h"

namespace kiseki::server {

namespace {
// Every key of the configuration (flags, KISEKI_* variables, the TOML file with
// its tables flattened: [s3] listen is s3_listen).
const std::set<std::string> kKnownKeys = {
    "data_dir", "s3_listen", "admin_listen", "admin_protect_all", "tls_cert", "tls_key", "s3_region", "s3_domain",
    "nfs_listen", "portmap_listen", "nfs_exports", "nfs_export_all", "nfs_export_defaults", "nfs_workers",
    "native_listen", "durability", "group_commit_ms", "log_level", "log_json", "log_file", "chunk_min_size",
    "chunk_avg_size", "chunk_max_size", "inline_threshold", "chunk_cache_size", "disk_reserve", "node_id", "cluster_listen",
    "initial_cluster", "cluster_secret", "cluster_secret_file", "election_timeout_ms", "raft_snapshot_entries", "test_faults", "join", "shards",
    "default_durability", "failure_domain", "capacity_gib", "repair_interval_ms", "repair_rate_mib", "node_lost_after_s",
    "lifecycle_interval_s"};
}  // namespace

Result<ServerOptions> parse_options(int argc, char** argv, char** env, bool* exit_ok) {
  *exit_ok = false;
  CLI::App app{"kiseki-server: encrypted, deduplicated storage over S3, NFSv3 and the native protocol (kiseki mount)"};
  std::map<std::string, std::string> flags;
  auto flag = [&](const std::string& name, const std::string& key, const std::string& help) {
    app.add_option_function<std::string>(name, [&flags, key](const std::string& v) { flags[key] = v; }, help);
  };
  flag("--config", "config", "TOML config file");
  flag("--data-dir", "data_dir", "data directory (default ./var)");
  flag("--s3-listen", "s3_listen", "S3 HOST:PORT (default 127.0.0.1:9000)");
  flag("--admin-listen", "admin_listen", "admin HTTP HOST:PORT (default 127.0.0.1:9090)");
  flag("--admin-protect-all", "admin_protect_all",
       "require the admin token for /metrics, /health and /ready too (default false: only /api)");
  flag("--tls-cert", "tls_cert", "PEM certificate chain: S3 and the admin API serve HTTPS (with --tls-key; SIGHUP reloads)");
  flag("--tls-key", "tls_key", "PEM private key of --tls-cert");
  flag("--s3-region", "s3_region", "region S3 clients sign for (default us-east-1)");
  flag("--s3-domain", "s3_domain", "domain for virtual-host-style buckets (BUCKET.DOMAIN)");
  flag("--lifecycle-interval-s", "lifecycle_interval_s",
       "seconds between passes of the S3 buckets' lifecycle rules (default 3600, 0 for none)");
  flag("--nfs-listen", "nfs_listen", "NFS HOST:PORT (default 127.0.0.1:2049)");
  flag("--portmap-listen", "portmap_listen", "portmapper HOST:PORT or off (default 127.0.0.1:111)");
  flag("--nfs-exports", "nfs_exports", "NFS exports: \"/tenant/ns OPTS; ...\" (OPTS: ro|rw,root_squash|no_root_squash,anonuid=,anongid=,clients=CIDR|CIDR)");
  flag("--nfs-export-all", "nfs_export_all", "export every namespace with the default options (default true)");
  flag("--nfs-export-defaults", "nfs_export_defaults", "options of exports not listed (default rw,no_root_squash,clients=127.0.0.0/8: this host only)");
  flag("--native-listen", "native_listen", "native protocol HOST:PORT for kiseki mount and libkiseki, or off (default 127.0.0.1:9100)");
  flag("--durability", "durability", "sync (default) | group | none");
  flag("--group-commit-ms", "group_commit_ms", "fsync interval for durability=group (default 5)");
  flag("--chunk-cache-size", "chunk_cache_size", "opened chunks kept in memory for reads, e.g. 512MiB, 0 for none (default 128MiB)");
  flag("--disk-reserve", "disk_reserve",
       "free space kept on the data file system for deletes and compaction: new data is refused below it (default 256MiB, 0 for none)");
  flag("--log-level", "log_level", "trace | debug | info (default) | warn | error | critical | off");
  flag("--log-file", "log_file", "append log lines to FILE instead of stderr (SIGHUP reopens it, for logrotate)");
  flag("--node-id", "node_id", "cluster mode: this node's id, a number above 0 named in --initial-cluster");
  flag("--cluster-listen", "cluster_listen", "cluster mode: the fabric HOST:PORT (Raft listens on PORT+1)");
  flag("--initial-cluster", "initial_cluster", "cluster mode: every first member, ID=HOST:PORT,... (the same list on every node)");
  flag("--join", "join", "cluster mode: join a running cluster through one of its nodes' fabric HOST:PORT (instead of --initial-cluster)");
  flag("--cluster-secret-file", "cluster_secret_file", "cluster mode: a file with the secret every node shares (at least 16 bytes)");
  flag("--election-timeout-ms", "election_timeout_ms", "cluster mode: Raft election timeout (default 1000)");
  flag("--shards", "shards",
       "cluster mode: metadata shards of a new cluster, each a Raft group; namespaces spread over them (default 1, "
       "the same on every first node)");
  flag("--raft-snapshot-entries", "raft_snapshot_entries",
       "cluster mode: Raft entries between two snapshots of a shard (default 8192; a quarter of it stays behind each)");
  flag("--default-durability", "default_durability",
       "cluster mode: how namespaces made without a policy (S3 buckets) keep their chunks: replicas=N or ec=K+M "
       "(default replicas=3)");
  flag("--failure-domain", "failure_domain",
       "cluster mode: this node's failure domain (a rack, a room): no two copies or fragments of a chunk share one "
       "while there are enough (default: the node alone)");
  flag("--capacity-gib", "capacity_gib",
       "cluster mode: this node's share of placement, in GiB (default: the size of the data directory's file system)");
  flag("--repair-interval-ms", "repair_interval_ms", "cluster mode: time between two repair passes (default 30000)");
  flag("--repair-rate-mib", "repair_rate_mib", "cluster mode: MiB/s that repair rebuilds at most (default 0: no bound)");
  flag("--node-lost-after-s", "node_lost_after_s",
       "cluster mode: a node that answers nothing this long is declared lost (removed; repair rebuilds its chunks "
       "elsewhere); 0: only `kiseki node remove` does it (default 0)");
  app.add_flag_function("--test-faults", [&flags](int64_t) { flags["test_faults"] = "true"; },
                        "cluster mode, tests only: PUT /api/v1/cluster/faults may cut this node off from others");
  app.add_flag_function("--log-json", [&flags](int64_t) { flags["log_json"] = "true"; }, "JSON log lines");
  app.set_version_flag("--version", "kiseki-server 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      *exit_ok = true;
      std::fputs(e.get_name() == "CallForHelp" ? app.help().c_str() : "kiseki-server 0.1.0\n", stdout);
      return invalid_argument("");
    }
    return invalid_argument(std::string(e.what()) + "\n" + app.help());
  }

  Config cfg;
  Config env_cfg;
  env_cfg.load_env(env);
  std::string config_file = flags.count("config") ? flags["config"] : env_cfg.get_string("config", "");
  if (!config_file.empty()) {
    KISEKI_TRY(cfg.load_toml_file(config_file));
    // A misspelt key would otherwise be ignored in silence.
    for (const auto& [k, v] : cfg.values())
      if (!kKnownKeys.count(k))
        return invalid_argument("config " + config_file + ": unknown key '" + k +
                                "' (docs/configuration.md lists every key)");
  }
  cfg.load_env(env);
  for (const auto& [k, v] : flags) cfg.set(k, v);

  ServerOptions o;
  o.config_file = config_file;
  o.gateway.data_dir = cfg.get_string("data_dir", "./var");
  o.s3_listen = cfg.get_string("s3_listen", o.s3_listen);
  o.admin_listen = cfg.get_string("admin_listen", o.admin_listen);
  KISEKI_ASSIGN_OR_RETURN(o.admin_protect_all, cfg.get_bool("admin_protect_all", false));
  o.tls_cert = cfg.get_string("tls_cert", "");
  o.tls_key = cfg.get_string("tls_key", "");
  if (o.tls_cert.empty() != o.tls_key.empty()) return invalid_argument("tls_cert and tls_key go together");
  o.s3_region = cfg.get_string("s3_region", o.s3_region);
  o.s3_domain = cfg.get_string("s3_domain", o.s3_domain);
  o.s3_enabled = o.s3_listen != "off";
  o.nfs_listen = cfg.get_string("nfs_listen", o.nfs_listen);
  o.native_listen = cfg.get_string("native_listen", o.native_listen);
  o.portmap_listen = cfg.get_string("portmap_listen", o.portmap_listen);
  o.nfs_exports = cfg.get_string("nfs_exports", o.nfs_exports);
  KISEKI_ASSIGN_OR_RETURN(o.nfs_export_all, cfg.get_bool("nfs_export_all", o.nfs_export_all));
  o.nfs_export_defaults = cfg.get_string("nfs_export_defaults", o.nfs_export_defaults);
  if (auto d = nfs::parse_export_options(o.nfs_export_defaults); !d)
    return invalid_argument("nfs_export_defaults: " + d.status().message());
  KISEKI_TRY(nfs::check_export_list(o.nfs_exports));
  KISEKI_ASSIGN_OR_RETURN(int64_t nw, cfg.get_int("nfs_workers", o.nfs_workers));
  if (nw < 1 || nw > 1024) return invalid_argument("nfs_workers must be 1..1024");
  o.nfs_workers = static_cast<uint32_t>(nw);
  o.log_level = cfg.get_string("log_level", o.log_level);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!kLevels.count(o.log_level))
    return invalid_argument("log_level must be trace, debug, info, warn, error, critical or off, not '" +
                            o.log_level + "'");
  // Every listen address is checked before anything is made on disk.
  for (const auto& [what, addr] : {std::pair<const char*, std::string>{"s3_listen", o.s3_listen},
                                   {"admin_listen", o.admin_listen},
                                   {"nfs_listen", o.nfs_listen},
                                   {"portmap_listen", o.portmap_listen},
                                   {"native_listen", o.native_listen}}) {
    if (addr == "off" && std::string_view(what) != "admin_listen") continue;
    auto hp = parse_host_port(addr);
    in_addr a4{};
    std::string host = hp ? (hp->first == "localhost" ? "127.0.0.1" : hp->first) : "";
    if (!hp || ::inet_pton(AF_INET, host.c_str(), &a4) != 1)
      return invalid_argument(std::string(what) + " must be IPv4:PORT or localhost:PORT" +
                              (std::string_view(what) == "admin_listen" ? "" : " (or off)") + ", not '" + addr +
                              "'");
  }
  KISEKI_ASSIGN_OR_RETURN(o.log_json, cfg.get_bool("log_json", false));
  o.log_file = cfg.get_string("log_file", "");
  std::string durability = cfg.get_string("durability", "sync");
  auto d = parse_durability(durability);
  if (!d) return invalid_argument("durability must be sync, group or none, not '" + durability + "'");
  o.gateway.durability = *d;
  KISEKI_ASSIGN_OR_RETURN(int64_t gms, cfg.get_int("group_commit_ms", 5));
  if (gms < 1 || gms > 10000) return invalid_argument("group_commit_ms must be 1..10000");
  o.gateway.group_commit_ms = static_cast<uint32_t>(gms);
  KISEKI_ASSIGN_OR_RETURN(uint64_t mn, cfg.get_size("chunk_min_size", o.gateway.object_chunking.min_size));
  KISEKI_ASSIGN_OR_RETURN(uint64_t avg, cfg.get_size("chunk_avg_size", o.gateway.object_chunking.avg_size));
  KISEKI_ASSIGN_OR_RETURN(uint64_t mx, cfg.get_size("chunk_max_size", o.gateway.object_chunking.max_size));
  if (mx > (4u << 20)) return invalid_argument("chunk_max_size must be at most 4MiB");
  o.gateway.object_chunking.min_size = static_cast<uint32_t>(mn);
  o.gateway.object_chunking.avg_size = static_cast<uint32_t>(avg);
  o.gateway.object_chunking.max_size = static_cast<uint32_t>(mx);
  KISEKI_TRY(o.gateway.object_chunking.validate());
  KISEKI_ASSIGN_OR_RETURN(uint64_t inl, cfg.get_size("inline_threshold", o.gateway.inline_threshold));
  if (inl > 65536) return invalid_argument("inline_threshold must be at most 64KiB");
  o.gateway.inline_threshold = static_cast<uint32_t>(inl);
  KISEKI_ASSIGN_OR_RETURN(o.gateway.chunk_cache_bytes, cfg.get_size("chunk_cache_size", o.gateway.chunk_cache_bytes));
  KISEKI_ASSIGN_OR_RETURN(o.gateway.reserve_bytes, cfg.get_size("disk_reserve", o.gateway.reserve_bytes));
  KISEKI_ASSIGN_OR_RETURN(int64_t node, cfg.get_int("node_id", 0));
  if (node < 0) return invalid_argument("node_id must be a number above 0");
  o.node_id = static_cast<uint64_t>(node);
  o.cluster_listen = cfg.get_string("cluster_listen", "");
  o.initial_cluster = cfg.get_string("initial_cluster", "");
  o.join = cfg.get_string("join", "");
  o.cluster_secret = cfg.get_string("cluster_secret", "");
  if (std::string f = cfg.get_string("cluster_secret_file", ""); !f.empty() && o.cluster_secret.empty()) {
    auto text = read_file(f);
    if (!text)
      return invalid_argument("cluster_secret_file " + f + ": " + text.status().message() +
                              " (make one with `head -c 32 /dev/urandom | base64 > " + f + "` and copy it to every node)");
    o.cluster_secret = *text;
    while (!o.cluster_secret.empty() && (o.cluster_secret.back() == '\n' || o.cluster_secret.back() == '\r'))
      o.cluster_secret.pop_back();
  }
  KISEKI_ASSIGN_OR_RETURN(int64_t et, cfg.get_int("election_timeout_ms", o.election_timeout_ms));
  if (et < 100 || et > 60000) return invalid_argument("election_timeout_ms must be 100..60000");
  o.election_timeout_ms = static_cast<uint32_t>(et);
  KISEKI_ASSIGN_OR_RETURN(o.test_faults, cfg.get_bool("test_faults", false));
  KISEKI_ASSIGN_OR_RETURN(int64_t lci, cfg.get_int("lifecycle_interval_s", o.lifecycle_interval_s));
  if (lci < 0 || lci > 7 * 86400) return invalid_argument("lifecycle_interval_s must be 0..604800");
  o.lifecycle_interval_s = static_cast<uint32_t>(lci);
  KISEKI_ASSIGN_OR_RETURN(int64_t shards, cfg.get_int("shards", 1));
  if (shards < 1 || shards > 64) return invalid_argument("shards must be 1..64");
  o.shards = static_cast<uint32_t>(shards);
  if (std::string d = cfg.get_string("default_durability", ""); !d.empty()) {
    KISEKI_ASSIGN_OR_RETURN(o.default_durability, Redundancy::parse(d));
  }
  o.failure_domain = cfg.get_string("failure_domain", "");
  if (o.failure_domain.size() > 64) return invalid_argument("failure_domain: at most 64 characters");
  KISEKI_ASSIGN_OR_RETURN(int64_t cap, cfg.get_int("capacity_gib", 0));
  if (cap < 0 || cap > (int64_t{1} << 30)) return invalid_argument("capacity_gib must be 1..2^30 GiB");
  o.capacity_gib = static_cast<uint32_t>(cap);
  KISEKI_ASSIGN_OR_RETURN(int64_t ri, cfg.get_int("repair_interval_ms", o.repair_interval_ms));
  if (ri < 100 || ri > 86400000) return invalid_argument("repair_interval_ms must be 100..86400000");
  o.repair_interval_ms = static_cast<uint32_t>(ri);
  KISEKI_ASSIGN_OR_RETURN(int64_t rr, cfg.get_int("repair_rate_mib", 0));
  if (rr < 0) return invalid_argument("repair_rate_mib must be 0 (no bound) or more");
  o.repair_rate_mib = static_cast<double>(rr);
  KISEKI_ASSIGN_OR_RETURN(int64_t lost, cfg.get_int("node_lost_after_s", 0));
  if (lost < 0 || lost > 86400 * 30) return invalid_argument("node_lost_after_s must be 0 (off) or up to 30 days");
  o.node_lost_after_s = static_cast<uint32_t>(lost);
  KISEKI_ASSIGN_OR_RETURN(int64_t se, cfg.get_int("raft_snapshot_entries", o.raft_snapshot_entries));
  if (se < 16 || se > 1000000000) return invalid_argument("raft_snapshot_entries must be 16..1000000000");
  o.raft_snapshot_entries = static_cast<uint32_t>(se);
  bool any = o.node_id || !o.cluster_listen.empty() || !o.initial_cluster.empty() || !o.join.empty();
  if (any && (!o.node_id || o.cluster_listen.empty() || o.initial_cluster.empty() == o.join.empty()))
    return invalid_argument("cluster mode needs --node-id and --cluster-listen, with --initial-cluster (a new "
                            "cluster) or --join (a running one), not both");
  if (any && o.cluster_secret.size() < 16)
    return invalid_argument("cluster mode needs the cluster secret (--cluster-secret-file, at least 16 bytes)");
  if (any) {
    auto hp = parse_host_port(o.cluster_listen);
    in_addr a4{};
    if (!hp || ::inet_pton(AF_INET, hp->first.c_str(), &a4) != 1 || hp->second == 0 || hp->second == 65535)
      return invalid_argument("cluster_listen must be IPv4:PORT with PORT in 1..65534, not '" + o.cluster_listen + "'");
  }
  return o;
}

}  // namespace kiseki::server
