#include "protocols/s3/lifecycle.h"

#include <pugixml.hpp>

#include <charconv>
#include <set>

#include "protocols/s3/dates.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

constexpr int64_t kDayNs = 86400ll * 1'000'000'000;

Status malformed(const std::string& m) { return invalid_argument("MalformedXML: " + m); }

Result<int64_t> positive(pugi::xml_node n, const char* what) {
  std::string_view v = n.child_value();
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return malformed(std::string(what) + " is not a number");
  if (x < 1 || x > 100 * 365) return invalid_argument(std::string("InvalidArgument: '") + what + "' must be a positive integer");
  return x;
}

Result<uint64_t> size(pugi::xml_node n, const char* what) {
  std::string_view v = n.child_value();
  uint64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return malformed(std::string(what) + " is not a number");
  return x;
}

// "2026-01-01T00:00:00Z" (a fraction allowed), which must be a midnight UTC.
Result<int64_t> midnight(std::string_view s) {
  int64_t ns = 0;
  if (!parse_iso8601(s, &ns)) return invalid_argument("InvalidArgument: 'Date' must be an ISO 8601 date in UTC");
  if (ns % kDayNs != 0) return invalid_argument("InvalidArgument: 'Date' must be at midnight GMT");
  return ns;
}


Status parse_filter_part(pugi::xml_node n, LifecycleRule* r) {
  if (auto p = n.child("Prefix")) r->prefix = p.child_value();
  for (auto t : n.children("Tag")) r->tags.emplace_back(t.child_value("Key"), t.child_value("Value"));
  if (auto g = n.child("ObjectSizeGreaterThan")) {
    KISEKI_ASSIGN_OR_RETURN(r->size_greater_than, size(g, "ObjectSizeGreaterThan"));
  }
  if (auto l = n.child("ObjectSizeLessThan")) {
    KISEKI_ASSIGN_OR_RETURN(r->size_less_than, size(l, "ObjectSizeLessThan"));
  }
  return Status::ok();
}

}  // namespace

int64_t lifecycle_due_ns(int64_t since_ns, int64_t days) {
  int64_t t = since_ns + days * kDayNs;
  return t % kDayNs == 0 ? t : (t / kDayNs + 1) * kDayNs;
}

Result<std::vector<LifecycleRule>> parse_lifecycle_xml(std::string_view body) {
  pugi::xml_document doc;
  auto res = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!res) return malformed(res.description());
  auto root = doc.child("LifecycleConfiguration");
  if (!root) return malformed("expected LifecycleConfiguration");
  std::vector<LifecycleRule> rules;
  std::set<std::string> ids;
  for (auto x : root.children("Rule")) {
    if (rules.size() == 1000) return invalid_argument("InvalidRequest: a lifecycle configuration holds at most 1000 rules");
    LifecycleRule r;
    r.id = x.child_value("ID");
    if (r.id.size() > 255) return invalid_argument("InvalidArgument: ID length should not exceed allowed limit of 255");
    if (!r.id.empty() && !ids.insert(r.id).second)
      return invalid_argument("InvalidArgument: Rule ID must be unique. Found same ID for more than one rule");
    std::string_view status = x.child_value("Status");
    if (status != "Enabled" && status != "Disabled") return malformed("a Rule's Status is Enabled or Disabled");
    r.enabled = status == "Enabled";
    if (auto f = x.child("Filter")) {
      if (auto a = f.child("And")) KISEKI_TRY(parse_filter_part(a, &r));
      else KISEKI_TRY(parse_filter_part(f, &r));
    } else if (auto p = x.child("Prefix")) {
      r.prefix = p.child_value();
    }
    for (const auto& [k, v] : r.tags)
      if (k.empty()) return invalid_argument("InvalidTag: a filter's tag needs a key");
    if (x.child("Transition") || x.child("NoncurrentVersionTransition"))
      return make_error(ErrorCode::kNotSupported, "storage class transitions: Kiseki keeps one storage class");
    if (auto e = x.child("Expiration")) {
      auto days = e.child("Days");
      auto date = e.child("Date");
      if (days && date) return malformed("an Expiration has Days or a Date, not both");
      if (days) {
        KISEKI_ASSIGN_OR_RETURN(r.expiration_days, positive(days, "Days"));
      }
      if (date) {
        KISEKI_ASSIGN_OR_RETURN(r.expiration_date_ns, midnight(date.child_value()));
      }
      r.expired_delete_markers = std::string_view(e.child_value("ExpiredObjectDeleteMarker")) == "true";
      if (!days && !date && !e.child("ExpiredObjectDeleteMarker"))
        return malformed("an Expiration needs Days, a Date or ExpiredObjectDeleteMarker");
    }
    if (auto n = x.child("NoncurrentVersionExpiration")) {
      KISEKI_ASSIGN_OR_RETURN(r.noncurrent_days, positive(n.child("NoncurrentDays"), "NoncurrentDays"));
    }
    if (auto a = x.child("AbortIncompleteMultipartUpload")) {
      if (!r.tags.empty())
        return invalid_argument("InvalidRequest: Tag-based filter cannot be used with AbortIncompleteMultipartUpload action");
      KISEKI_ASSIGN_OR_RETURN(r.abort_upload_days, positive(a.child("DaysAfterInitiation"), "DaysAfterInitiation"));
    }
    if (!r.expiration_days && !r.expiration_date_ns && !r.abort_upload_days && !r.noncurrent_days &&
        !r.expired_delete_markers)
      return invalid_argument("InvalidRequest: At least one action needs to be specified in a rule");
    rules.push_back(std::move(r));
  }
  if (rules.empty()) return malformed("a LifecycleConfiguration needs at least one Rule");
  return rules;
}

std::string lifecycle_xml(const std::vector<LifecycleRule>& rules) {
  XmlWriter w;
  w.open("LifecycleConfiguration", true);
  for (const auto& r : rules) {
    w.open("Rule");
    if (!r.id.empty()) w.leaf("ID", r.id);
    w.open("Filter");
    int parts = (r.prefix.empty() ? 0 : 1) + static_cast<int>(r.tags.size()) + (r.size_greater_than ? 1 : 0) +
                (r.size_less_than ? 1 : 0);
    if (parts > 1) w.open("And");
    if (!r.prefix.empty() || parts == 0) w.leaf("Prefix", r.prefix);
    for (const auto& [k, v] : r.tags) w.open("Tag").leaf("Key", k).leaf("Value", v).close("Tag");
    if (r.size_greater_than) w.leaf("ObjectSizeGreaterThan", std::to_string(*r.size_greater_than));
    if (r.size_less_than) w.leaf("ObjectSizeLessThan", std::to_string(*r.size_less_than));
    if (parts > 1) w.close("And");
    w.close("Filter");
    w.leaf("Status", r.enabled ? "Enabled" : "Disabled");
    if (r.expiration_days || r.expiration_date_ns || r.expired_delete_markers) {
      w.open("Expiration");
      if (r.expiration_days) w.leaf("Days", std::to_string(*r.expiration_days));
      if (r.expiration_date_ns) w.leaf("Date", iso8601(*r.expiration_date_ns));
      if (r.expired_delete_markers) w.leaf("ExpiredObjectDeleteMarker", "true");
      w.close("Expiration");
    }
    if (r.noncurrent_days)
      w.open("NoncurrentVersionExpiration").leaf("NoncurrentDays", std::to_string(*r.noncurrent_days))
          .close("NoncurrentVersionExpiration");
    if (r.abort_upload_days)
      w.open("AbortIncompleteMultipartUpload").leaf("DaysAfterInitiation", std::to_string(*r.abort_upload_days))
          .close("AbortIncompleteMultipartUpload");
    w.close("Rule");
  }
  return w.close("LifecycleConfiguration").take();
}

bool lifecycle_filter_matches(const LifecycleRule& r, std::string_view key, uint64_t size, const TagSet& tags) {
  if (!key.starts_with(r.prefix)) return false;
  if (r.size_greater_than && !(size > *r.size_greater_than)) return false;
  if (r.size_less_than && !(size < *r.size_less_than)) return false;
  for (const auto& want : r.tags)
    if (std::find(tags.begin(), tags.end(), want) == tags.end()) return false;
  return true;
}

}  // namespace kiseki::s3
