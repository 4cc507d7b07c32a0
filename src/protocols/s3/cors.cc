#include "protocols/s3/cors.h"

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>

#include "common/text.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

Status malformed(const std::string& m) { return invalid_argument("MalformedXML: " + m); }
Status refused(const std::string& m) { return invalid_argument("InvalidRequest: " + m); }

bool one_star_at_most(std::string_view s) { return std::count(s.begin(), s.end(), '*') <= 1; }

}  // namespace

bool wildcard_match(std::string_view pattern, std::string_view s) {
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == s;
  std::string_view head = pattern.substr(0, star), tail = pattern.substr(star + 1);
  return s.size() >= head.size() + tail.size() && s.starts_with(head) && s.ends_with(tail);
}

Result<std::vector<CorsRule>> parse_cors_xml(std::string_view body) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return malformed(r.description());
  auto root = doc.child("CORSConfiguration");
  if (!root) return malformed("expected CORSConfiguration");
  std::vector<CorsRule> rules;
  for (auto x : root.children("CORSRule")) {
    if (rules.size() == 100) return refused("a CORS configuration holds at most 100 rules");
    CorsRule rule;
    rule.id = x.child_value("ID");
    if (rule.id.size() > 255) return refused("a CORS rule's ID is at most 255 characters");
    for (auto o : x.children("AllowedOrigin")) {
      std::string v = o.child_value();
      if (!one_star_at_most(v)) return refused("AllowedOrigin \"" + v + "\" can not have more than one wildcard.");
      rule.origins.push_back(std::move(v));
    }
    for (auto m : x.children("AllowedMethod")) {
      std::string v = m.child_value();
      if (v != "GET" && v != "PUT" && v != "HEAD" && v != "POST" && v != "DELETE")
        return refused("Found unsupported HTTP method in CORS config. Unsupported method is " + v);
      rule.methods.push_back(std::move(v));
    }
    for (auto h : x.children("AllowedHeader")) {
      std::string v = ascii_lower(h.child_value());
      if (!one_star_at_most(v)) return refused("AllowedHeader \"" + v + "\" can not have more than one wildcard.");
      rule.headers.push_back(std::move(v));
    }
    for (auto h : x.children("ExposeHeader")) rule.expose.emplace_back(h.child_value());
    if (auto m = x.child("MaxAgeSeconds")) {
      std::string_view v = m.child_value();
      int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 0) return malformed("MaxAgeSeconds is not a number");
      rule.max_age = n;
    }
    if (rule.origins.empty() || rule.methods.empty())
      return malformed("a CORSRule needs at least one AllowedOrigin and one AllowedMethod");
    rules.push_back(std::move(rule));
  }
  if (rules.empty()) return malformed("a CORSConfiguration needs at least one CORSRule");
  return rules;
}

std::string cors_xml(const std::vector<CorsRule>& rules) {
  XmlWriter w;
  w.open("CORSConfiguration", true);
  for (const auto& r : rules) {
    w.open("CORSRule");
    if (!r.id.empty()) w.leaf("ID", r.id);
    for (const auto& v : r.headers) w.leaf("AllowedHeader", v);
    for (const auto& v : r.methods) w.leaf("AllowedMethod", v);
    for (const auto& v : r.origins) w.leaf("AllowedOrigin", v);
    for (const auto& v : r.expose) w.leaf("ExposeHeader", v);
    if (r.max_age) w.leaf("MaxAgeSeconds", std::to_string(*r.max_age));
    w.close("CORSRule");
  }
  return w.close("CORSConfiguration").take();
}

const CorsRule* match_cors(const std::vector<CorsRule>& rules, std::string_view origin, std::string_view method,
                           const std::vector<std::string>& headers) {
  for (const auto& r : rules) {
    if (std::none_of(r.origins.begin(), r.origins.end(), [&](const auto& o) { return wildcard_match(o, origin); }))
      continue;
    if (std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end()) continue;
    bool all = std::all_of(headers.begin(), headers.end(), [&](const std::string& h) {
      std::string l = ascii_lower(h);
      return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& a) { return wildcard_match(a, l); });
    });
    if (all) return &r;
  }
  return nullptr;
}

}  // namespace kiseki::s3
