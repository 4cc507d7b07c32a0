#include "tools/mount_cmd.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "mount/fuse_fs.h"
#include "tools/s3_client.h"

namespace kiseki::tools {

void add_mount_commands(CLI::App& app, const MountCommandContext& ctx) {
  struct Args {
    std::string endpoint = "127.0.0.1:9100";
    std::string target, mountpoint;
    std::vector<std::string> options;
    bool foreground = false;
    bool tls = false;
  };
  auto args = std::make_shared<Args>();
  if (const char* e = std::getenv("KISEKI_NATIVE")) args->endpoint = e;
  auto* m = app.add_subcommand("mount", "mount a namespace as a file system: kiseki mount TENANT/NAMESPACE MOUNTPOINT");
  m->fallthrough();  // --credentials, --profile, --data-dir after the word too
  m->add_option("--endpoint", args->endpoint,
                "the server's native protocol HOST:PORT (default 127.0.0.1:9100, or KISEKI_NATIVE)");
  m->add_option("target", args->target, "TENANT/NAMESPACE")->required();
  m->add_option("mountpoint", args->mountpoint, "an existing empty directory")->required();
  m->add_option("-o", args->options, "options: allow_other, ro, uid=N, gid=N, attr_timeout=S, entry_timeout=S, "
                                     "writeback|no_writeback, max_threads=N, debug, cache=organic|pinned|bypass, "
                                     "cache_dir=DIR, cache_size=SIZE, cache_mem=SIZE");
  m->add_flag("-f,--foreground", args->foreground, "stay in the foreground (default: daemonize once mounted)");
  m->add_flag("--tls", args->tls, "TLS to a server started with --tls-cert (its certificate checked against "
                                  "--ca-cert, else the system's CAs)");
  m->callback([ctx, args] {
    ctx.run([ctx, args]() -> int {
      size_t slash = args->target.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == args->target.size()) {
        std::fprintf(stderr, "kiseki mount: name the namespace as TENANT/NAMESPACE\n");
        return 2;
      }
      std::string joined;
      for (const auto& o : args->options) joined += (joined.empty() ? "" : ",") + o;
      auto opts = mount::parse_mount_options(joined);
      if (!opts) {
        std::fprintf(stderr, "kiseki mount: %s\n", opts.status().message().c_str());
        return 2;
      }
      mount::MountTarget t;
      t.client.endpoint = args->endpoint;
      t.client.tls = args->tls || !ctx.ca_cert->empty();
      t.client.ca_file = *ctx.ca_cert;
      const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
      const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
      if (ctx.credentials->empty() && ak && sk && *ak && *sk) {
        t.client.access_key = ak;
        t.client.secret_key = sk;
      } else {
        S3Endpoint ep;
        std::string file = ctx.credentials->empty() ? *ctx.data_dir + "/credentials" : *ctx.credentials;
        if (Status st = load_credentials(file, *ctx.profile, &ep); !st) {
          std::fprintf(stderr, "kiseki mount: %s\n", st.message().c_str());
          return 2;
        }
        t.client.access_key = ep.access_key;
        t.client.secret_key = ep.secret_key;
      }
      std::string tenant = args->target.substr(0, slash);
      t.ns_name = args->target.substr(slash + 1);
      t.fsname = "kiseki:" + args->target;
      std::error_code ec;
      t.mountpoint = std::filesystem::absolute(args->mountpoint, ec).string();
      {
        // The key names the tenant; the command line must name the same one.
        auto probe = client::Client::connect(t.client);
        if (!probe) {
          std::fprintf(stderr, "kiseki mount: %s: %s\n", args->endpoint.c_str(), probe.status().message().c_str());
          return 1;
        }
        if ((*probe)->tenant_name() != tenant) {
          std::fprintf(stderr, "kiseki mount: the access key belongs to tenant '%s', not '%s'\n",
                       (*probe)->tenant_name().c_str(), tenant.c_str());
          return 1;
        }
      }
      return mount::run_mount(t, *opts, args->foreground);
    });
  });

  auto where = std::make_shared<std::string>();
  auto* u = app.add_subcommand("umount", "unmount a kiseki mount: kiseki umount MOUNTPOINT");
  u->add_option("mountpoint", *where)->required();
  u->callback([ctx, where] {
    ctx.run([where]() -> int {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::execlp("fusermount3", "fusermount3", "-u", where->c_str(), static_cast<char*>(nullptr));
        std::perror("kiseki umount: fusermount3");
        ::_exit(127);
      }
      int status = 0;
      if (pid < 0 || ::waitpid(pid, &status, 0) < 0) return 1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    });
  });
}

}  // namespace kiseki::tools
