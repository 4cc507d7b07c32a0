#include "protocols/s3/object_lock.h"

#include <charconv>

#include <pugixml.hpp>

#include "protocols/s3/dates.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

constexpr int64_t kDayNs = 86400ll * 1000000000ll;

Status malformed(std::string m) { return invalid_argument("MalformedXML: " + std::move(m)); }

Result<pugi::xml_node> root(pugi::xml_document& doc, std::string_view xml, const char* name) {
  if (!doc.load_buffer(xml.data(), xml.size()) || !doc.child(name))
    return malformed(std::string("not a ") + name + " document");
  return doc.child(name);
}

Result<uint32_t> positive(pugi::xml_node n, const char* name) {
  std::string v = n.child_value(name);
  uint32_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out == 0 || out > 36500)
    return invalid_argument(std::string(name) + " must be a positive integer");
  return out;
}

}  // namespace

const char* lock_mode_name(ns::LockMode m) {
  return m == ns::LockMode::kCompliance ? "COMPLIANCE" : m == ns::LockMode::kGovernance ? "GOVERNANCE" : "";
}

std::optional<ns::LockMode> parse_lock_mode(std::string_view s) {
  if (s == "GOVERNANCE") return ns::LockMode::kGovernance;
  if (s == "COMPLIANCE") return ns::LockMode::kCompliance;
  return std::nullopt;
}

int64_t LockConfig::default_until(int64_t now_ns) const {
  return now_ns + static_cast<int64_t>(days) * kDayNs + static_cast<int64_t>(years) * 365 * kDayNs;
}

Result<LockConfig> parse_lock_config(std::string_view xml) {
  pugi::xml_document doc;
  KISEKI_ASSIGN_OR_RETURN(auto r, root(doc, xml, "ObjectLockConfiguration"));
  if (std::string(r.child_value("ObjectLockEnabled")) != "Enabled")
    return malformed("ObjectLockEnabled must be Enabled");
  LockConfig c;
  auto dr = r.child("Rule").child("DefaultRetention");
  if (r.child("Rule") && !dr) return malformed("a Rule holds a DefaultRetention");
  if (!dr) return c;
  c.mode = parse_lock_mode(dr.child_value("Mode"));
  if (!c.mode) return malformed("Mode is GOVERNANCE or COMPLIANCE");
  bool days = dr.child("Days"), years = dr.child("Years");
  if (days == years) return malformed("a DefaultRetention has Days or Years");
  if (days) {
    KISEKI_ASSIGN_OR_RETURN(c.days, positive(dr, "Days"));
  } else {
    KISEKI_ASSIGN_OR_RETURN(c.years, positive(dr, "Years"));
  }
  return c;
}

std::string lock_config_xml(const LockConfig& c) {
  XmlWriter x;
  x.open("ObjectLockConfiguration", true).leaf("ObjectLockEnabled", "Enabled");
  if (c.mode) {
    x.open("Rule").open("DefaultRetention").leaf("Mode", lock_mode_name(*c.mode));
    if (c.days) x.leaf("Days", std::to_string(c.days));
    if (c.years) x.leaf("Years", std::to_string(c.years));
    x.close("DefaultRetention").close("Rule");
  }
  return x.close("ObjectLockConfiguration").take();
}

Result<ns::ObjectLock> parse_retention(std::string_view xml) {
  pugi::xml_document doc;
  KISEKI_ASSIGN_OR_RETURN(auto r, root(doc, xml, "Retention"));
  ns::ObjectLock l;
  std::string mode = r.child_value("Mode"), until = r.child_value("RetainUntilDate");
  if (mode.empty() && until.empty()) return l;
  auto m = parse_lock_mode(mode);
  if (!m) return malformed("Mode is GOVERNANCE or COMPLIANCE");
  if (!parse_iso8601(until, &l.retain_until_ns)) return malformed("RetainUntilDate is an ISO 8601 date");
  l.mode = *m;
  return l;
}

std::string retention_xml(const ns::ObjectLock& l) {
  XmlWriter x;
  x.open("Retention", true).leaf("Mode", lock_mode_name(l.mode)).leaf("RetainUntilDate", iso8601(l.retain_until_ns));
  return x.close("Retention").take();
}

Result<bool> parse_legal_hold(std::string_view xml) {
  pugi::xml_document doc;
  KISEKI_ASSIGN_OR_RETURN(auto r, root(doc, xml, "LegalHold"));
  std::string s = r.child_value("Status");
  if (s != "ON" && s != "OFF") return malformed("Status is ON or OFF");
  return s == "ON";
}

std::string legal_hold_xml(bool on) {
  XmlWriter x;
  x.open("LegalHold", true).leaf("Status", on ? "ON" : "OFF");
  return x.close("LegalHold").take();
}

}  // namespace kiseki::s3
