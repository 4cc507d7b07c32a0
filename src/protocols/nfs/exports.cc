#include "protocols/nfs/exports.h"

#include <functional>

#include <arpa/inet.h>

#include <charconv>

namespace kiseki::nfs {

namespace {


std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

Result<uint32_t> parse_u32(std::string_view v, std::string_view what) {
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return invalid_argument("bad " + std::string(what) + ": " + std::string(v));
  return n;
}

}  // namespace

Result<Cidr> parse_cidr(std::string_view s) {
  if (s == "*") return Cidr{0, 0};
  std::string host(s.substr(0, s.find('/')));
  uint32_t bits = 32;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    KISEKI_ASSIGN_OR_RETURN(bits, parse_u32(s.substr(slash + 1), "prefix length"));
    if (bits > 32) return invalid_argument("prefix length above 32: " + std::string(s));
  }
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) != 1) return invalid_argument("not an IPv4 address: " + std::string(s));
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return Cidr{ntohl(a.s_addr) & mask, mask};
}

bool ExportOptions::allows(uint32_t ip) const {
  if (clients.empty()) return true;
  for (const auto& c : clients)
    if (c.contains(ip)) return true;
  return false;
}

std::string ExportOptions::to_string() const {
  std::string s = read_only ? "ro" : "rw";
  s += root_squash ? ",root_squash" : ",no_root_squash";
  s += ",anonuid=" + std::to_string(anon_uid) + ",anongid=" + std::to_string(anon_gid);
  if (!client_text.empty()) {
    s += ",clients=";
    for (size_t i = 0; i < client_text.size(); ++i) s += (i ? "|" : "") + client_text[i];
  }
  return s;
}

Result<ExportOptions> parse_export_options(std::string_view s) {
  ExportOptions o;
  if (trim(s).empty()) return o;
  for (auto opt : split(s, ',')) {
    auto eq = opt.find('=');
    std::string_view k = opt.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
    if (k == "ro") o.read_only = true;
    else if (k == "rw") o.read_only = false;
    else if (k == "root_squash") o.root_squash = true;
    else if (k == "no_root_squash") o.root_squash = false;
    else if (k == "anonuid") { KISEKI_ASSIGN_OR_RETURN(o.anon_uid, parse_u32(v, "anonuid")); }
    else if (k == "anongid") { KISEKI_ASSIGN_OR_RETURN(o.anon_gid, parse_u32(v, "anongid")); }
    else if (k == "clients") {
      for (auto c : split(v, '|')) {
        KISEKI_ASSIGN_OR_RETURN(Cidr cidr, parse_cidr(c));
        o.clients.push_back(cidr);
        o.client_text.emplace_back(c);
      }
      if (o.clients.empty()) return invalid_argument("clients= needs at least one address");
    } else {
      return invalid_argument("unknown export option '" + std::string(opt) + "'");
    }
  }
  return o;
}

Result<gateway::NsRef> ExportTable::resolve(std::string_view path) const {
  if (path.size() < 4 || path[0] != '/') return invalid_argument("an export path is /<tenant>/<namespace>");
  auto slash = path.find('/', 1);
  if (slash == std::string_view::npos || path.find('/', slash + 1) != std::string_view::npos ||
      slash == 1 || slash + 1 == path.size())
    return invalid_argument("an export path is /<tenant>/<namespace>: " + std::string(path));
  KISEKI_ASSIGN_OR_RETURN(auto t, gw_->find_tenant(path.substr(1, slash - 1)));
  KISEKI_ASSIGN_OR_RETURN(auto n, gw_->find_namespace(t.id, path.substr(slash + 1)));
  return n.ref;
}

Status ExportTable::add(const std::string& path, const ExportOptions& opts) {
  KISEKI_ASSIGN_OR_RETURN(gateway::NsRef ref, resolve(path));
  std::lock_guard lock(mu_);
  auto e = std::make_shared<const Export>(Export{path, ref, opts, true});
  by_path_[path] = e;
  by_ns_[ref.ns] = e;
  return Status::ok();
}

namespace {
// Calls `f(path, options)` for each entry of "PATH OPTS; PATH OPTS".
Status for_each_export(std::string_view config_exports,
                       const std::function<Status(const std::string&, const ExportOptions&)>& f) {
  for (auto entry : split(config_exports, ';')) {
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) entry.remove_prefix(1);
    if (entry.empty()) continue;
    auto sp = entry.find_first_of(" \t");
    std::string path(entry.substr(0, sp));
    auto o = parse_export_options(sp == std::string_view::npos ? "" : entry.substr(sp));
    if (!o) return make_error(o.code(), "nfs export " + path + ": " + o.status().message());
    Status st = f(path, *o);
    if (!st) return make_error(st.code(), "nfs export " + path + ": " + st.message());
  }
  return Status::ok();
}
}  // namespace

Status check_export_list(std::string_view config_exports) {
  return for_each_export(config_exports, [](const std::string& path, const ExportOptions&) {
    auto slash = path.find('/', 1);
    if (path.size() < 4 || path[0] != '/' || slash == std::string::npos || slash + 1 >= path.size() ||
        path.find('/', slash + 1) != std::string::npos)
      return invalid_argument("the path must be /TENANT/NAMESPACE");
    return Status::ok();
  });
}

Status ExportTable::load(std::string_view config_exports) {
  KISEKI_TRY(for_each_export(config_exports,
                             [this](const std::string& path, const ExportOptions& o) { return add(path, o); }));
  KISEKI_ASSIGN_OR_RETURN(auto stored, gw_->list_exports());
  for (const auto& [path, text] : stored) {
    KISEKI_ASSIGN_OR_RETURN(ExportOptions o, parse_export_options(text));
    if (!add(path, o)) continue;  // its namespace was deleted: the export went with it
  }
  return Status::ok();
}

Status ExportTable::put(const std::string& path, const ExportOptions& opts) {
  KISEKI_TRY(resolve(path).status());
  KISEKI_TRY(gw_->put_export(path, opts.to_string()));
  return add(path, opts);
}

Status ExportTable::remove(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    auto it = by_path_.find(path);
    if (it == by_path_.end()) return not_found("no configured export " + path);
    by_ns_.erase(it->second->ns.ns);  // back to the defaults, if any, at the next call
    by_path_.erase(it);
  }
  return gw_->delete_export(path);
}

std::vector<Export> ExportTable::list() const {
  std::vector<Export> out;
  std::map<NamespaceId, bool> seen;
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, e] : by_path_) {
      out.push_back(*e);
      seen[e->ns.ns] = true;
    }
  }
  if (!export_all_) return out;
  for (const auto& t : gw_->list_tenants()) {
    if (t.shredded) continue;
    for (const auto& n : gw_->list_namespaces(t.id))
      if (!seen.count(n.ref.ns)) out.push_back(Export{"/" + t.name + "/" + n.name, n.ref, defaults_, false});
  }
  return out;
}

Result<ExportRef> ExportTable::find_path(std::string_view path) const {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  {
    std::lock_guard lock(mu_);
    auto it = by_path_.find(std::string(path));
    if (it != by_path_.end()) return it->second;
  }
  if (!export_all_) return not_found("not exported: " + std::string(path));
  KISEKI_ASSIGN_OR_RETURN(gateway::NsRef ref, resolve(path));
  return std::make_shared<const Export>(Export{std::string(path), ref, defaults_, false});
}

Result<ExportRef> ExportTable::find_ns(TenantId tenant, NamespaceId ns) const {
  {
    std::lock_guard lock(mu_);
    auto it = by_ns_.find(ns);
    if (it != by_ns_.end()) {
      if (it->second->ns.tenant != tenant) return make_error(ErrorCode::kStale, "handle names another tenant");
      return it->second;
    }
  }
  if (!export_all_) return make_error(ErrorCode::kStale, "namespace not exported");
  auto n = gw_->get_namespace(ns);
  if (!n || n->ref.tenant != tenant) return make_error(ErrorCode::kStale, "no such namespace");
  auto e = std::make_shared<const Export>(Export{"", n->ref, defaults_, false});
  std::lock_guard lock(mu_);
  // A deleted namespace's inodes are gone, so its handles stay STALE; a
  // configured export added meanwhile wins.
  return by_ns_.emplace(ns, e).first->second;
}

}  // namespace kiseki::nfs
