// kiseki: the command-line tool for a Kiseki server's admin API.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string_view>

#include "common/file_util.h"
#include "tools/admin_client.h"

using namespace kiseki;
namespace json = boost::json;

namespace {

// Prints the reply body and turns the HTTP status into an exit code.
int finish(const Result<tools::HttpReply>& r) {
  if (!r) {
    std::fprintf(stderr, "kiseki: %s\n", r.status().message().c_str());
    return 3;
  }
  if (r->status >= 200 && r->status < 300) {
    std::fputs(r->body.c_str(), stdout);
    return 0;
  }
  std::string msg = r->body;
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  if (!ec && v.is_object() && v.as_object().contains("message"))
    msg = std::string(v.as_object()["error"].as_string()) + ": " +
          std::string(v.as_object()["message"].as_string()) + "\n";
  std::fprintf(stderr, "kiseki: HTTP %d %s", r->status, msg.c_str());
  return 1;
}

std::string obj(json::object o) { return json::serialize(o); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiseki: manage a Kiseki server (tenants, namespaces, access keys, maintenance)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kiseki 0.1.0");
  const char* env_admin = std::getenv("KISEKI_ADMIN");
  std::string admin = env_admin ? env_admin : "127.0.0.1:9090";
  app.add_option("--admin", admin,
                 "admin API [https://]HOST:PORT (default 127.0.0.1:9090, or KISEKI_ADMIN); https:// for a server "
                 "started with --tls-cert");
  const char* env_ca = std::getenv("KISEKI_CA_CERT");
  std::string ca = env_ca ? env_ca : "";
  app.add_option("--ca-cert", ca, "PEM CA certificates that an https:// admin API's certificate chains to "
                                  "(default: KISEKI_CA_CERT, else the system's)");
  const char* env_token = std::getenv("KISEKI_ADMIN_TOKEN");
  const char* env_dir = std::getenv("KISEKI_DATA_DIR");
  std::string token = env_token ? env_token : "", data_dir = env_dir ? env_dir : "./var";
  app.add_option("--token", token, "admin token (default: KISEKI_ADMIN_TOKEN, else DATA_DIR/admin-token)");
  app.add_option("--data-dir", data_dir, "the server's data directory, to read its admin-token (default ./var, or KISEKI_DATA_DIR)");
  std::function<Result<tools::HttpReply>()> action;

  auto* tenant = app.add_subcommand("tenant", "tenants")->require_subcommand(1);
  std::string tname;
  auto* tc = tenant->add_subcommand("create", "create a tenant");
  tc->add_option("name", tname)->required();
  bool shared_dedup = false;
  tc->add_flag("--shared-dedup", shared_dedup,
               "store the tenant's chunks in the shared dedup domain (docs/security.md: what that gives away)");
  tc->callback([&] {
    action = [&] {
      return tools::http_request(admin, "POST", "/api/v1/tenants",
                                 obj({{"name", tname}, {"shared_dedup", shared_dedup}}));
    };
  });
  tenant->add_subcommand("list", "list tenants")->callback([&] {
    action = [&] { return tools::http_request(admin, "GET", "/api/v1/tenants"); };
  });
  auto* ts = tenant->add_subcommand("shred", "crypto-shred a tenant: its data becomes unreadable, for good");
  ts->add_option("name", tname)->required();
  bool yes = false;
  ts->add_flag("--yes", yes, "confirm");
  ts->callback([&] {
    action = [&]() -> Result<tools::HttpReply> {
      if (!yes) return invalid_argument("shredding destroys the tenant's data for good: pass --yes");
      return tools::http_request(admin, "POST", "/api/v1/tenants/" + tools::path_segment(tname) + "/shred");
    };
  });

  auto* ns = app.add_subcommand("namespace", "namespaces (S3 buckets, NFS exports, mount roots)")->require_subcommand(1);
  std::string nname;
  bool public_read = false;
  auto* nc = ns->add_subcommand("create", "create a namespace");
  nc->add_option("tenant", tname)->required();
  nc->add_option("name", nname)->required();
  nc->add_flag("--public-read", public_read, "allow anonymous reads");
  nc->callback([&] {
    action = [&] {
      return tools::http_request(admin, "POST", "/api/v1/tenants/" + tools::path_segment(tname) + "/namespaces",
                                 obj({{"name", nname}, {"public_read", public_read}}));
    };
  });
  auto* nl = ns->add_subcommand("list", "list a tenant's namespaces");
  nl->add_option("tenant", tname)->required();
  nl->callback([&] { action = [&] { return tools::http_request(admin, "GET", "/api/v1/tenants/" + tools::path_segment(tname) + "/namespaces"); }; });
  auto* nd = ns->add_subcommand("delete", "delete an empty namespace");
  nd->add_option("tenant", tname)->required();
  nd->add_option("name", nname)->required();
  nd->callback([&] {
    action = [&] { return tools::http_request(admin, "DELETE", "/api/v1/tenants/" + tools::path_segment(tname) + "/namespaces/" + tools::path_segment(nname)); };
  });

  auto* key = app.add_subcommand("key", "S3 access keys")->require_subcommand(1);
  std::string kid;
  auto* kc = key->add_subcommand("create", "create an access key for a tenant");
  kc->add_option("tenant", tname)->required();
  kc->callback([&] { action = [&] { return tools::http_request(admin, "POST", "/api/v1/tenants/" + tools::path_segment(tname) + "/keys"); }; });
  auto* kd = key->add_subcommand("delete", "delete an access key");
  kd->add_option("access_key_id", kid)->required();
  kd->callback([&] { action = [&] { return tools::http_request(admin, "DELETE", "/api/v1/keys/" + tools::path_segment(kid)); }; });

  app.add_subcommand("scrub", "verify every chunk on disk")->callback([&] {
    action = [&] { return tools::http_request(admin, "POST", "/api/v1/scrub"); };
  });
  app.add_subcommand("compact", "reclaim dead space in chunk segments")->callback([&] {
    action = [&] { return tools::http_request(admin, "POST", "/api/v1/compact"); };
  });
  app.add_subcommand("health", "check that the server is up")->callback([&] {
    action = [&] { return tools::http_request(admin, "GET", "/health"); };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // CLI11 says "A subcommand is required" for a command it does not know:
      // name the word instead (it is what CLI11 left unparsed).
      auto left = app.remaining(true);
      if (!left.empty() && std::string_view(e.what()).find("subcommand") != std::string_view::npos) {
        std::fprintf(stderr, "kiseki: unknown command '%s' (see kiseki --help)\n", left.front().c_str());
        return 2;
      }
    }
    return app.exit(e);
  }
  if (token.empty()) {
    if (auto t = read_file(data_dir + "/admin-token")) {
      token = *t;
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    }
  }
  tools::set_admin_token(token);
  tools::set_admin_ca(ca);
  return finish(action());
}
