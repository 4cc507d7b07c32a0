// kiseki-profile: one harness that measures every protocol, and any peer, side
// by side. `kiseki-profile --help` lists the options.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/config.h"
#include "support/temp_dir.h"
#include "tools/profile/null_server.h"
#include "tools/profile/report.h"
#include "tools/profile/runner.h"

using namespace kiseki;
using namespace kiseki::profile;

static std::string env_or(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

int main(int argc, char** argv) {
  CLI::App app{"kiseki-profile: throughput and latency of storage protocols, Kiseki's and its peers'"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // later flags win
  std::string drivers = "inprocess", shapes = "put-heavy", size_s = "64KiB", keys = "uniform", json_path, json_dir;
  int concurrency = 16, warmup = 256, keyspace = 4096, list_entries = 100;
  std::vector<int> server_pids;
  double duration = 30;
  bool matrix = false;
  DriverOptions d;
  d.endpoint = env_or("S3_ENDPOINT", "http://127.0.0.1:9000");
  d.access_key = env_or("S3_ACCESS_KEY");
  d.secret_key = env_or("S3_SECRET_KEY");
  app.add_option("--driver", drivers, "inprocess | s3 | fs | nfs3 | native (comma-separated with --matrix)");
  app.add_option("--shape", shapes, "put-heavy | get-heavy | mixed | create-empty-files | stat | list (comma-separated with --matrix)");
  app.add_option("--size", size_s, "object size (64KiB, 1MiB …)");
  app.add_option("--concurrency", concurrency, "workers, each with its own connection (default 16)");
  app.add_option("--duration", duration, "seconds per run (default 30)");
  app.add_option("--warmup", warmup, "objects written before reads (default 256)");
  app.add_option("--list-entries", list_entries, "entries in the directory the list shape reads (default 100)")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--keyspace", keyspace, "distinct keys that put shapes overwrite (default 4096)");
  app.add_option("--keys", keys, "key distribution: uniform | zipf");
  app.add_option("--endpoint", d.endpoint,
                 "s3: URL (default $S3_ENDPOINT or http://127.0.0.1:9000); nfs3: nfs:// URL; native: HOST:PORT");
  app.add_option("--access-key", d.access_key, "S3 access key (default $S3_ACCESS_KEY)");
  app.add_option("--secret-key", d.secret_key, "S3 secret key (default $S3_SECRET_KEY)");
  app.add_option("--bucket", d.bucket, "bucket / directory (default profile)");
  app.add_option("--path", d.path, "fs driver: a mounted directory");
  app.add_flag("--nfs-dircache", d.nfs_dircache, "nfs3 driver: let libnfs cache directories (default off)");
  app.add_flag("--fs-fsync", d.fs_fsync, "fs driver: fsync each file before closing it");
  app.add_flag("--fs-drop-cache", d.fs_drop_cache, "fs driver: drop each file's page cache before reading it (cold reads)");
  app.add_option("--server-pid", server_pids, "measure the CPU time of these processes too (PID,PID…)")->delimiter(',');
  app.add_option("--json", json_path, "write the run's JSON here (with --matrix: all runs, one per line)");
  app.add_option("--json-dir", json_dir, "with --matrix: one JSON file per run in this directory");
  app.add_flag("--matrix", matrix, "run every driver × shape and print the matrix tables");
  std::string null_listen;
  uint64_t null_size = 64 << 10;
  auto* null_cmd = app.add_subcommand("serve-null", "answer S3-shaped requests from memory (harness calibration)");
  null_cmd->add_option("--listen", null_listen, "HOST:PORT")->required();
  null_cmd->add_option("--object-size", null_size, "GET body size in bytes");
  CLI11_PARSE(app, argc, argv);

  if (*null_cmd) {
    Status st = serve_null(null_listen, null_size);
    std::fprintf(stderr, "kiseki-profile: %s\n", st.to_string().c_str());
    return 1;
  }
  auto size = parse_size(size_s);
  if (!size) {
    std::fprintf(stderr, "kiseki-profile: --size: %s\n", size.status().message().c_str());
    return 2;
  }
  if (keys != "uniform" && keys != "zipf") {
    std::fprintf(stderr, "kiseki-profile: --keys must be uniform or zipf\n");
    return 2;
  }
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
      size_t c = s.find(',', start);
      if (c == std::string::npos) c = s.size();
      if (c > start) out.push_back(s.substr(start, c - start));
      start = c + 1;
    }
    return out;
  };
  std::vector<std::string> driver_list = split(drivers);
  std::vector<std::string> shape_list = split(shapes);
  // --matrix without --shape: the three S3 shapes.
  if (matrix && app.count("--shape") == 0) shape_list = {"put-heavy", "get-heavy", "mixed"};
  if (!matrix && (driver_list.size() != 1 || shape_list.size() != 1)) {
    std::fprintf(stderr, "kiseki-profile: several drivers or shapes need --matrix\n");
    return 2;
  }

  std::vector<RunResult> results;
  std::string all_json;
  std::fputs(table_header().c_str(), stdout);
  for (const auto& dn : driver_list) {
    kiseki::testing::TempDir tmp;  // the inprocess driver's throwaway store
    DriverOptions opts = d;
    opts.data_dir = tmp.path();
    auto driver = make_driver(dn, opts);
    if (!driver) {
      std::fprintf(stderr, "kiseki-profile: %s\n", driver.status().message().c_str());
      return 2;
    }
    if (Status st = (*driver)->setup(); !st) {
      std::fprintf(stderr, "kiseki-profile: %s setup: %s\n", dn.c_str(), st.to_string().c_str());
      return 1;
    }
    for (const auto& sn : shape_list) {
      auto shape = parse_shape(sn);
      if (!shape) {
        std::fprintf(stderr, "kiseki-profile: %s\n", shape.status().message().c_str());
        return 2;
      }
      RunOptions ro;
      ro.shape = *shape;
      ro.size = *size;
      ro.concurrency = concurrency;
      ro.duration_s = duration;
      ro.warmup = warmup;
      ro.list_entries = list_entries;
      ro.zipf = keys == "zipf";
      ro.keyspace = keyspace;
      if (dn != "inprocess") ro.server_pids = server_pids;
      auto r = run_shape(**driver, ro);
      if (!r) {
        std::fprintf(stderr, "kiseki-profile: %s %s: %s\n", dn.c_str(), sn.c_str(), r.status().to_string().c_str());
        return 1;
      }
      std::fputs(table_row(*r).c_str(), stdout);
      std::fflush(stdout);
      std::string js = to_json(*r);
      all_json += js;
      if (!json_dir.empty()) {
        std::filesystem::create_directories(json_dir);
        std::ofstream(json_dir + "/" + dn + "-" + sn + ".json") << js;
      }
      results.push_back(std::move(*r));
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << all_json;
  if (matrix) std::printf("\n%s", matrix_tables(results).c_str());
  return 0;
}
