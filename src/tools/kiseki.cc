// kiseki: the command-line tool for a Kiseki server: its admin API (tenants,
// namespaces, keys, usage, maintenance, backup) and quick S3 transfers.
// Tables for people by default, --json for scripts (docs/cli.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string_view>
#include <thread>

#include "common/file_util.h"
#include "tools/admin_client.h"
#include "tools/mount_cmd.h"
#include "tools/stage_cmd.h"
#include "tools/restore.h"
#include "tools/s3_client.h"
#include "tools/table.h"

using namespace kiseki;
using namespace kiseki::tools;
namespace json = boost::json;

namespace {

struct Cli {
  std::string admin = "127.0.0.1:9090";
  bool json_out = false;
};
Cli g;

int fail(const Status& s, int code = 1) {
  std::fprintf(stderr, "kiseki: %s\n", s.message().c_str());
  return code;
}

// "ns" of a JSON object as a string/number for a table cell.
std::string cell(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  if (v->is_null()) return "";
  return json::serialize(*v);
}
uint64_t num(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<uint64_t>() : 0;
}

// Runs an admin call and hands a successful reply to `human` (or prints the JSON
// with --json). Exit codes: 0 done, 1 refused by the server, 3 unreachable.
int admin(const std::string& method, const std::string& target, const std::string& body,
          const std::function<void(const json::value&)>& human) {
  auto r = http_request(g.admin, method, target, body);
  if (!r) return fail(r.status(), 3);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (r->status < 200 || r->status >= 300) {
    std::string msg = r->body;
    if (!ec && v.is_object() && v.as_object().contains("message"))
      msg = cell(v.as_object(), "error") + ": " + cell(v.as_object(), "message");
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    std::fprintf(stderr, "kiseki: HTTP %d %s\n", r->status, msg.c_str());
    return 1;
  }
  if (g.json_out || ec) {
    std::fputs(r->body.c_str(), stdout);
    return 0;
  }
  human(v);
  return 0;
}

// A spinner with the elapsed time on a terminal while a long call runs.
class Elapsed {
 public:
  explicit Elapsed(std::string what) : what_(std::move(what)) {
    if (::isatty(2) != 1) return;
    thread_ = std::thread([this] {
      auto start = std::chrono::steady_clock::now();
      static const char kSpin[] = "|/-\\";
      for (int i = 0; !done_; ++i) {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "\r%s %c %.0f s ", what_.c_str(), kSpin[i % 4], s);
        std::fflush(stderr);
        for (int k = 0; k < 5 && !done_; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::fprintf(stderr, "\r%*s\r", static_cast<int>(what_.size()) + 12, "");
    });
  }
  ~Elapsed() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string what_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// "bucket/key/with/slashes" → ("bucket", "key/with/slashes").
std::pair<std::string, std::string> split_target(std::string s) {
  if (s.starts_with("s3://")) s = s.substr(5);
  auto slash = s.find('/');
  if (slash == std::string::npos) return {s, ""};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

// "1 chunk", "3 chunks".
std::string count(uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

void print_json(const json::value& v) { std::printf("%s\n", json::serialize(v).c_str()); }

void print_tenants(const json::value& v) {
  Table t({"TENANT", "ID", "DEDUP DOMAIN", "STATE"}, {false, true});
  for (const auto& x : v.as_array()) {
    const auto& o = x.as_object();
    t.add({cell(o, "name"), cell(o, "id"), o.at("shared_dedup").as_bool() ? "shared" : "own",
           o.at("shredded").as_bool() ? "shredded" : "active"});
  }
  t.print();
}

void print_namespaces(const json::value& v) {
  Table t({"NAMESPACE", "ID", "PUBLIC READ", "DURABILITY", "CREATED"}, {false, true});
  for (const auto& x : v.as_array()) {
    const auto& o = x.as_object();
    t.add({cell(o, "name"), cell(o, "id"), cell(o, "public_read"), cell(o, "durability"), cell(o, "created")});
  }
  t.print();
}

void print_usage(const json::value& v) {
  const auto& o = v.as_object();
  Table t({"TENANT / NAMESPACE", "FILES", "DIRS", "VERSIONS", "LOGICAL", "STORED", "DEDUP"},
          {false, true, true, true, true, true, true});
  auto row = [&](const std::string& name, const json::object& c) {
    // Kept versions take space too: the ratio counts their bytes.
    uint64_t logical = num(c, "logical_bytes") + (c.contains("version_bytes") ? num(c, "version_bytes") : 0);
    t.add({name, cell(c, "files"), cell(c, "dirs"), c.contains("versions") ? cell(c, "versions") : "0",
           human_bytes(num(c, "logical_bytes")), human_bytes(num(c, "stored_bytes")),
           ratio(logical, num(c, "stored_bytes"))});
  };
  for (const auto& x : o.at("tenants").as_array()) {
    const auto& tn = x.as_object();
    row(cell(tn, "name") + (tn.at("shared_dedup").as_bool() ? " (shared dedup)" : ""), tn);
    for (const auto& y : o.at("namespaces").as_array())
      if (cell(y.as_object(), "tenant") == cell(tn, "name")) row("  " + cell(y.as_object(), "name"), y.as_object());
  }
  row("all", o.at("total").as_object());
  t.print();
  std::printf("Stored is what the data takes on disk: sealed chunks, each counted once, plus small files kept inline\n"
              "in the metadata. Versions are the object versions kept besides the current ones (their bytes are not\n"
              "in logical). Logical with the versions' bytes / stored is the dedup ratio.\n");
}

void print_scrub(const json::value& v) {
  const auto& o = v.as_object();
  std::printf("Scrub verified %s (%s) in %s", count(num(o, "chunks"), "chunk").c_str(),
              human_bytes(num(o, "bytes")).c_str(), count(num(o, "segments"), "segment").c_str());
  if (o.contains("inline_files")) {
    uint64_t n = num(o, "inline_files");
    std::printf("; %s (%s) %s kept inline in the metadata, guarded by its block checksums",
                count(n, "small file").c_str(), human_bytes(num(o, "inline_bytes")).c_str(), n == 1 ? "is" : "are");
  }
  std::printf(".\n");
  const auto& problems = o.at("problems").as_array();
  if (problems.empty()) {
    std::printf("No problems found.\n");
    return;
  }
  std::printf("%zu problems:\n", problems.size());
  for (const auto& p : problems) std::printf("  %s\n", std::string(p.as_string()).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiseki: manage a Kiseki server and move files in and out of it"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kiseki 0.1.0");
  const char* env_admin = std::getenv("KISEKI_ADMIN");
  if (env_admin) g.admin = env_admin;
  app.add_option("--admin", g.admin,
                 "admin API [https://]HOST:PORT (default 127.0.0.1:9090, or KISEKI_ADMIN); https:// for a server "
                 "started with --tls-cert");
  const char* env_ca = std::getenv("KISEKI_CA_CERT");
  std::string ca = env_ca ? env_ca : "";
  app.add_option("--ca-cert", ca, "PEM CA certificates that an https:// server's certificate chains to "
                                  "(default: KISEKI_CA_CERT, else the system's)");
  const char* env_token = std::getenv("KISEKI_ADMIN_TOKEN");
  const char* env_dir = std::getenv("KISEKI_DATA_DIR");
  std::string token = env_token ? env_token : "", data_dir = env_dir ? env_dir : "./var";
  app.add_option("--token", token, "admin token (default: KISEKI_ADMIN_TOKEN, else DATA_DIR/admin-token)");
  app.add_option("--data-dir", data_dir,
                 "the server's data directory, for its admin-token and credentials (default ./var, or KISEKI_DATA_DIR)");
  app.add_flag("--json", g.json_out, "print the admin API's JSON instead of tables");
  const char* env_s3 = std::getenv("KISEKI_S3");
  std::string s3_url = env_s3 ? env_s3 : "http://127.0.0.1:9000";
  std::string credentials, profile = "default";
  app.add_option("--s3", s3_url, "S3 endpoint for put/get/ls/rm (default http://127.0.0.1:9000, or KISEKI_S3)");
  app.add_option("--credentials", credentials,
                 "AWS credentials file for put/get/ls/rm (default: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY if "
                 "set, else DATA_DIR/credentials)");
  app.add_option("--profile", profile, "profile in the credentials file (default: default)");
  std::function<int()> action;
  auto run = [&action](std::function<int()> f) { action = std::move(f); };

  // ---- tenants
  auto* tenant = app.add_subcommand("tenant", "tenants")->require_subcommand(1);
  std::string tname, nname, kid, dir, local, remote, uname;
  auto* tc = tenant->add_subcommand("create", "create a tenant");
  tc->add_option("name", tname)->required();
  bool shared_dedup = false;
  tc->add_flag("--shared-dedup", shared_dedup,
               "store the tenant's chunks in the shared dedup domain (docs/security.md: what that gives away)");
  tc->callback([&] {
    run([&] {
      return admin("POST", "/api/v1/tenants", json::serialize(json::object{{"name", tname}, {"shared_dedup", shared_dedup}}),
                   [](const json::value& v) {
                     const auto& o = v.as_object();
                     std::printf("created tenant %s (id %s, %s dedup domain)\n", cell(o, "name").c_str(),
                                 cell(o, "id").c_str(), o.at("shared_dedup").as_bool() ? "the shared" : "its own");
                   });
    });
  });
  tenant->add_subcommand("list", "list tenants")->callback([&] {
    run([&] { return admin("GET", "/api/v1/tenants", "", print_tenants); });
  });
  auto* ts = tenant->add_subcommand("shred", "crypto-shred a tenant: its data becomes unreadable, for good");
  ts->add_option("name", tname)->required();
  bool yes = false;
  ts->add_flag("--yes", yes, "confirm");
  ts->callback([&] {
    run([&] {
      if (!yes) return fail(invalid_argument("shredding destroys the tenant's data for good: pass --yes"), 2);
      return admin("POST", "/api/v1/tenants/" + path_segment(tname) + "/shred", "", [&](const json::value&) {
        std::printf("tenant %s crypto-shredded: its key is destroyed and its data unreadable for good\n", tname.c_str());
      });
    });
  });

  // ---- namespaces
  auto* ns = app.add_subcommand("namespace", "namespaces (S3 buckets, NFS exports, mount roots)")->require_subcommand(1);
  bool public_read = false;
  auto* nc = ns->add_subcommand("create", "create a namespace (its name is an S3 bucket name)");
  nc->add_option("tenant", tname)->required();
  nc->add_option("name", nname)->required();
  nc->add_flag("--public-read", public_read, "allow anonymous reads");
  std::string durability;
  nc->add_option("--durability", durability,
                 "cluster mode: how its chunks are kept: replicas=N or ec=K+M, e.g. ec=4+2 (default: the cluster's "
                 "--default-durability)");
  nc->callback([&] {
    run([&] {
      json::object body{{"name", nname}, {"public_read", public_read}};
      if (!durability.empty()) body["durability"] = durability;
      return admin("POST", "/api/v1/tenants/" + path_segment(tname) + "/namespaces",
                   json::serialize(body), [&](const json::value& v) {
                     std::printf("created namespace %s of tenant %s (id %s): s3://%s, NFS export /%s/%s\n",
                                 nname.c_str(), tname.c_str(), cell(v.as_object(), "id").c_str(), nname.c_str(),
                                 tname.c_str(), nname.c_str());
                   });
    });
  });
  auto* nl = ns->add_subcommand("list", "list a tenant's namespaces");
  nl->add_option("tenant", tname)->required();
  nl->callback([&] {
    run([&] { return admin("GET", "/api/v1/tenants/" + path_segment(tname) + "/namespaces", "", print_namespaces); });
  });
  auto* nd = ns->add_subcommand("delete", "delete an empty namespace");
  nd->add_option("tenant", tname)->required();
  nd->add_option("name", nname)->required();
  nd->callback([&] {
    run([&] {
      return admin("DELETE", "/api/v1/tenants/" + path_segment(tname) + "/namespaces/" + path_segment(nname), "",
                   [&](const json::value&) { std::printf("deleted namespace %s of tenant %s\n", nname.c_str(), tname.c_str()); });
    });
  });

  // ---- access keys
  auto* key = app.add_subcommand("key", "S3 access keys")->require_subcommand(1);
  auto* kc = key->add_subcommand("create", "create an access key for a tenant, or for one of its users");
  kc->add_option("tenant", tname)->required();
  kc->add_option("--user", uname, "a key of this user of the tenant (kiseki user create)");
  kc->callback([&] {
    run([&] {
      std::string body = uname.empty() ? "" : json::serialize(json::object{{"user", uname}});
      return admin("POST", "/api/v1/tenants/" + path_segment(tname) + "/keys", body, [&](const json::value& v) {
        const auto& o = v.as_object();
        std::string whose = "tenant " + tname + (uname.empty() ? "" : ", user " + uname);
        std::printf("access key for %s (the secret is shown only now):\n  access key: %s\n  secret key: %s\n",
                    whose.c_str(), cell(o, "access_key_id").c_str(), cell(o, "secret_key").c_str());
      });
    });
  });
  auto* kl = key->add_subcommand("list", "list access keys (of one tenant, or of all)");
  kl->add_option("tenant", tname);
  kl->callback([&] {
    run([&] {
      std::string target = tname.empty() ? "/api/v1/keys" : "/api/v1/tenants/" + path_segment(tname) + "/keys";
      return admin("GET", target, "", [](const json::value& v) {
        Table t({"TENANT", "ACCESS KEY", "USER"});
        for (const auto& x : v.as_array())
          t.add({cell(x.as_object(), "tenant"), cell(x.as_object(), "access_key_id"), cell(x.as_object(), "user")});
        t.print();
      });
    });
  });
  auto* kd = key->add_subcommand("delete", "delete an access key");
  kd->add_option("access_key_id", kid)->required();
  kd->callback([&] {
    run([&] {
      return admin("DELETE", "/api/v1/keys/" + path_segment(kid), "",
                   [&](const json::value&) { std::printf("deleted access key %s\n", kid.c_str()); });
    });
  });

  // ---- users of a tenant (S3 bucket policies name them)
  auto* user = app.add_subcommand("user", "users of a tenant: S3 keys whose rights bucket policies give")
                   ->require_subcommand(1);
  auto* uc = user->add_subcommand("create", "create a user of a tenant");
  uc->add_option("tenant", tname)->required();
  uc->add_option("name", uname)->required();
  uc->callback([&] {
    run([&] {
      return admin("POST", "/api/v1/tenants/" + path_segment(tname) + "/users",
                   json::serialize(json::object{{"name", uname}}),
                   [&](const json::value&) { std::printf("created user %s of tenant %s\n", uname.c_str(), tname.c_str()); });
    });
  });
  auto* ul = user->add_subcommand("list", "list a tenant's users and their access keys");
  ul->add_option("tenant", tname)->required();
  ul->callback([&] {
    run([&] {
      return admin("GET", "/api/v1/tenants/" + path_segment(tname) + "/users", "", [](const json::value& v) {
        Table t({"USER", "CREATED", "ACCESS KEYS"});
        for (const auto& x : v.as_array()) {
          std::string ids;
          for (const auto& id : x.as_object().at("access_keys").as_array())
            ids += (ids.empty() ? "" : " ") + std::string(id.as_string());
          t.add({cell(x.as_object(), "name"), cell(x.as_object(), "created"), ids});
        }
        t.print();
      });
    });
  });
  auto* ud = user->add_subcommand("delete", "delete a user of a tenant and its access keys");
  ud->add_option("tenant", tname)->required();
  ud->add_option("name", uname)->required();
  ud->callback([&] {
    run([&] {
      return admin("DELETE", "/api/v1/tenants/" + path_segment(tname) + "/users/" + path_segment(uname), "",
                   [&](const json::value&) { std::printf("deleted user %s of tenant %s\n", uname.c_str(), tname.c_str()); });
    });
  });

  // ---- NFS exports
  auto* ex = app.add_subcommand("export", "NFS exports (every namespace is exported at /TENANT/NAMESPACE)")
                 ->require_subcommand(1);
  std::string epath, eopts;
  auto export_target = [&]() -> Result<std::string> {
    auto [t, n] = split_target(epath.starts_with("/") ? epath.substr(1) : epath);
    if (t.empty() || n.empty() || n.find('/') != std::string::npos)
      return invalid_argument("an export path is /TENANT/NAMESPACE, not '" + epath + "'");
    return "/api/v1/nfs/exports/" + path_segment(t) + "/" + path_segment(n);
  };
  ex->add_subcommand("list", "every export and its options")->callback([&] {
    run([&] {
      return admin("GET", "/api/v1/nfs/exports", "", [](const json::value& v) {
        Table t({"EXPORT", "OPTIONS", "FROM"});
        for (const auto& x : v.as_array()) {
          const auto& o = x.as_object();
          t.add({cell(o, "path"), cell(o, "options"), o.at("configured").as_bool() ? "configured" : "defaults"});
        }
        t.print();
      });
    });
  });
  auto* es = ex->add_subcommand("set", "give an export its own options, e.g. rw,root_squash,clients=127.0.0.0/8|10.0.0.0/8");
  es->add_option("path", epath, "/TENANT/NAMESPACE")->required();
  es->add_option("options", eopts, "ro|rw, root_squash|no_root_squash, anonuid=, anongid=, clients=CIDR|CIDR")->required();
  es->callback([&] {
    run([&] {
      auto target = export_target();
      if (!target) return fail(target.status(), 2);
      return admin("PUT", *target, json::serialize(json::object{{"options", eopts}}), [](const json::value& v) {
        std::printf("export %s: %s\n", cell(v.as_object(), "path").c_str(), cell(v.as_object(), "options").c_str());
      });
    });
  });
  auto* er = ex->add_subcommand("reset", "drop an export's own options: back to the defaults");
  er->add_option("path", epath, "/TENANT/NAMESPACE")->required();
  er->callback([&] {
    run([&] {
      auto target = export_target();
      if (!target) return fail(target.status(), 2);
      return admin("DELETE", *target, "", [&](const json::value&) {
        std::printf("export %s: back to the defaults\n", epath.c_str());
      });
    });
  });

  // ---- state and maintenance
  app.add_subcommand("usage", "files, bytes and dedup ratio per tenant and namespace")->callback([&] {
    run([&] { return admin("GET", "/api/v1/usage", "", print_usage); });
  });
  // ---- the cluster
  auto* cl = app.add_subcommand("cluster", "a cluster's nodes and shards")->require_subcommand(1);
  auto* cs = cl->add_subcommand("status", "every node, each shard's leader, term and indexes, degraded chunks");
  cs->add_flag("--json", g.json_out, "one JSON object (nodes, shards, chunks_degraded)");
  cs->callback([&] {
    run([&] {
      return admin("GET", "/api/v1/cluster", "", [](const json::value& v) {
        const auto& o = v.as_object();
        Table t({"NODE", "FABRIC", "STATE", "ROLE", "TERM", "COMMIT", "APPLIED"}, {true});
        for (const auto& x : o.at("nodes").as_array()) {
          const auto& n = x.as_object();
          std::string role = "-", term = "-", commit = "-", applied = "-";
          if (auto sh = n.find("shards"); sh != n.end() && !sh->value().as_array().empty()) {
            const auto& s0 = sh->value().as_array()[0].as_object();
            role = cell(s0, "role");
            term = cell(s0, "term");
            commit = cell(s0, "commit_index");
            applied = cell(s0, "applied_index");
          }
          t.add({cell(n, "node"), cell(n, "fabric"), n.at("reachable").as_bool() ? "up" : "unreachable", role, term,
                 commit, applied});
        }
        t.print();
        for (const auto& x : o.at("shards").as_array()) {
          const auto& s = x.as_object();
          std::printf("shard %s: leader node %s, term %s\n", cell(s, "shard").c_str(), cell(s, "leader").c_str(),
                      cell(s, "term").c_str());
        }
        const auto& r = o.at("repair").as_object();
        std::string eta = r.at("eta_seconds").is_null() ? "-" : cell(r, "eta_seconds") + " s";
        std::printf("chunks degraded: %s (unreadable: %s); repair: %s bytes left at %s B/s, ETA %s%s\n",
                    cell(o, "chunks_degraded").c_str(), cell(o, "chunks_unreadable").c_str(),
                    cell(r, "bytes_left").c_str(), cell(r, "rate_bytes_per_second").c_str(), eta.c_str(),
                    r.at("every_node_passed").as_bool() ? "" : " (a node has not finished a pass yet)");
        std::printf("chunks written below their target: %s\n", cell(o, "chunks_written_degraded").c_str());
      });
    });
  });
  cl->add_subcommand("repair", "one repair pass on the node asked, now (each node repairs the chunks it answers for)")
      ->callback([&] { run([&] { return admin("POST", "/api/v1/cluster/repair", "", print_json); }); });
  cl->add_subcommand("chunks", "where every chunk's copies and fragments are, asked of every node now")
      ->callback([&] { run([&] { return admin("GET", "/api/v1/cluster/chunks", "", print_json); }); });
  auto* nodes_cmd = app.add_subcommand("node", "a cluster's members: list, drain, remove")->require_subcommand(1);
  nodes_cmd->add_subcommand("list", "every node: id, fabric address, state, Raft role, the leader")->callback([&] {
    run([&] {
      return admin("GET", "/api/v1/cluster/nodes", "", [](const json::value& v) {
        Table t({"NODE", "FABRIC", "STATE", "DOMAIN", "WEIGHT", "RAFT", "LEADER"}, {true});
        for (const auto& x : v.as_array()) {
          const auto& n = x.as_object();
          t.add({cell(n, "id"), cell(n, "fabric"), cell(n, "state"), cell(n, "domain"), cell(n, "weight"),
                 cell(n, "raft_role"), n.at("leader").as_bool() ? "*" : ""});
        }
        t.print();
      });
    });
  });
  static uint64_t node_arg = 0;
  auto* ndr = nodes_cmd->add_subcommand("remove", "take a node out of the cluster for good (its id is not used again)");
  ndr->add_option("ID", node_arg, "node id")->required();
  ndr->callback([&] {
    run([&] {
      return admin("DELETE", "/api/v1/cluster/nodes/" + std::to_string(node_arg), "",
                   [](const json::value&) { std::printf("node %llu removed\n", static_cast<unsigned long long>(node_arg)); });
    });
  });
  auto* ndd = nodes_cmd->add_subcommand("drain", "place no new chunks on a node and move leadership off it");
  ndd->add_option("ID", node_arg, "node id")->required();
  ndd->callback([&] {
    run([&] {
      return admin("POST", "/api/v1/cluster/nodes/" + std::to_string(node_arg) + "/drain", "",
                   [](const json::value&) { std::printf("node %llu drains\n", static_cast<unsigned long long>(node_arg)); });
    });
  });
  app.add_subcommand("status", "what the server serves and where")->callback([&] {
    run([&] {
      return admin("GET", "/api/v1/status", "", [](const json::value& v) {
        const auto& o = v.as_object();
        std::printf("%s, %s, up since %s, durability %s\n", cell(o, "version").c_str(),
                    o.at("ready").as_bool() ? "ready" : "starting", cell(o, "started").c_str(),
                    cell(o, "durability").c_str());
        for (const char* k : {"write_fault", "degraded"})
          if (auto it = o.find(k); it != o.end() && it->value().is_string())
            std::printf("%s: %s\n", k, std::string(it->value().as_string()).c_str());
        Table t({"SERVICE", "ADDRESS"});
        for (const auto& [k, a] : o.at("endpoints").as_object()) t.add({std::string(k), std::string(a.as_string())});
        t.print();
        const auto& c = o.at("capacity").as_object();
        std::printf("disk: %s free of %s\n", human_bytes(num(c, "avail_bytes")).c_str(),
                    human_bytes(num(c, "total_bytes")).c_str());
      });
    });
  });
  app.add_subcommand("scrub", "verify every chunk on disk")->callback([&] {
    run([&] {
      Elapsed e("scrubbing");
      return admin("POST", "/api/v1/scrub", "", print_scrub);
    });
  });
  app.add_subcommand("compact", "reclaim dead space in chunk segments")->callback([&] {
    run([&] {
      Elapsed e("compacting");
      return admin("POST", "/api/v1/compact", "", [](const json::value& v) {
        std::printf("compaction removed %s segments\n", cell(v.as_object(), "segments_removed").c_str());
      });
    });
  });
  app.add_subcommand("health", "check that the server is up")->callback([&] {
    run([&] {
      auto r = http_request(g.admin, "GET", "/health");
      if (!r) return fail(r.status(), 3);
      std::fputs(r->body.c_str(), r->status == 200 ? stdout : stderr);
      return r->status == 200 ? 0 : 1;
    });
  });
  auto* bk = app.add_subcommand("backup", "write a consistent backup of the server's data into DIR (on the server's host)");
  bk->add_option("dir", dir, "a directory that does not exist yet")->required();
  bk->callback([&] {
    run([&] {
      std::error_code ec;
      std::string abs = std::filesystem::absolute(dir, ec).string();
      Elapsed e("backing up");
      return admin("POST", "/api/v1/backup", json::serialize(json::object{{"dir", abs}}), [](const json::value& v) {
        const auto& o = v.as_object();
        std::printf("backup of %s files (%s) written to %s\n", cell(o, "files").c_str(),
                    human_bytes(num(o, "bytes")).c_str(), cell(o, "dir").c_str());
      });
    });
  });
  auto* rs = app.add_subcommand("restore", "copy a backup into a new data directory (--data-dir), with no server on it");
  rs->add_option("dir", dir, "the backup")->required();
  rs->callback([&] {
    run([&] {
      auto r = restore_backup(dir, data_dir);
      if (!r) return fail(r.status());
      std::printf("restored %llu files (%s) into %s; start kiseki-server --data-dir %s\n",
                  static_cast<unsigned long long>(r->files), human_bytes(r->bytes).c_str(), data_dir.c_str(),
                  data_dir.c_str());
      return 0;
    });
  });

  // ---- quick S3 transfers
  auto s3 = [&]() -> Result<S3Client> {
    S3Endpoint ep;
    ep.url = s3_url;
    const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
    const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (credentials.empty() && ak && sk && *ak && *sk) {
      ep.access_key = ak;
      ep.secret_key = sk;
    } else {
      KISEKI_TRY(load_credentials(credentials.empty() ? data_dir + "/credentials" : credentials, profile, &ep));
    }
    if (const char* region = std::getenv("AWS_DEFAULT_REGION")) ep.region = region;
    return S3Client(ep);
  };
  auto* put = app.add_subcommand("put", "upload a file: kiseki put FILE BUCKET/KEY (KEY defaults to the file's name)");
  put->add_option("file", local)->required();
  put->add_option("target", remote)->required();
  put->callback([&] {
    run([&] {
      auto c = s3();
      if (!c) return fail(c.status(), 2);
      auto [bucket, k] = split_target(remote);
      if (k.empty() || k.back() == '/') k += std::filesystem::path(local).filename().string();
      ProgressBar bar("put " + k);
      Status st = c->put_file(local, bucket, k, [&](uint64_t d, uint64_t t) { bar.update(d, t); });
      if (!st) return fail(st);
      return 0;
    });
  });
  auto* get = app.add_subcommand("get", "download an object: kiseki get BUCKET/KEY [FILE|-]");
  get->add_option("source", remote)->required();
  get->add_option("file", local);
  get->callback([&] {
    run([&] {
      auto c = s3();
      if (!c) return fail(c.status(), 2);
      auto [bucket, k] = split_target(remote);
      if (k.empty()) return fail(invalid_argument("name an object: BUCKET/KEY"), 2);
      std::string to = local.empty() ? std::filesystem::path(k).filename().string() : local;
      ProgressBar bar("get " + k);
      Status st = c->get_file(bucket, k, to, [&](uint64_t d, uint64_t t) { if (to != "-") bar.update(d, t); });
      if (!st) return fail(st);
      return 0;
    });
  });
  bool recursive = false;
  auto* ls = app.add_subcommand("ls", "list buckets, or a bucket's objects: kiseki ls [BUCKET[/PREFIX]]");
  ls->add_option("target", remote);
  ls->add_flag("-r,--recursive", recursive, "every key under the prefix, not one level");
  ls->callback([&] {
    run([&] {
      auto c = s3();
      if (!c) return fail(c.status(), 2);
      auto [bucket, prefix] = split_target(remote);
      auto entries = bucket.empty() ? c->list_buckets() : c->list(bucket, prefix, recursive);
      if (!entries) return fail(entries.status());
      Table t(bucket.empty() ? std::vector<std::string>{"BUCKET", "CREATED"}
                             : std::vector<std::string>{"SIZE", "MODIFIED", "KEY"},
              {true});
      for (const auto& e : *entries) {
        if (bucket.empty()) t.add({e.key, e.last_modified});
        else t.add({e.prefix ? "DIR" : human_bytes(e.size), e.last_modified, e.key});
      }
      t.print();
      return 0;
    });
  });
  auto* rm = app.add_subcommand("rm", "delete an object: kiseki rm BUCKET/KEY");
  rm->add_option("target", remote)->required();
  rm->callback([&] {
    run([&] {
      auto c = s3();
      if (!c) return fail(c.status(), 2);
      auto [bucket, k] = split_target(remote);
      if (k.empty()) return fail(invalid_argument("name an object: BUCKET/KEY"), 2);
      Status st = c->remove(bucket, k);
      return st ? 0 : fail(st);
    });
  });

  add_mount_commands(app, {&credentials, &profile, &data_dir, &ca, run});
  add_stage_command(app, run);

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
  set_admin_token(token);
  set_admin_ca(ca);
  return action();
}
