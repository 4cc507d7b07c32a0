#include "protocols/s3/post_policy.h"

#include <boost/json.hpp>


#include "common/text.h"
#include "protocols/s3/dates.h"

namespace kiseki::s3 {

namespace json = boost::json;

namespace {

Status invalid(const std::string& m) { return invalid_argument("InvalidPolicyDocument: Invalid Policy: " + m); }
Status denied(const std::string& m) {
  return make_error(ErrorCode::kPermissionDenied, "Invalid according to Policy: " + m);
}

Result<int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= INT64_MAX) return static_cast<int64_t>(v.as_uint64());
  if (v.is_string()) {
    std::string s(v.as_string());
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return static_cast<int64_t>(n);
  }
  return invalid("content-length-range needs two integers");
}

std::string describe(const PostPolicy::Condition& c) {
  return "[\"" + c.op + "\", \"$" + c.field + "\", \"" + c.value + "\"]";
}

}  // namespace

Result<PostPolicy> parse_post_policy(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return invalid("the policy is not a JSON object");
  const auto& o = doc.as_object();
  PostPolicy p;
  const json::value* exp = o.if_contains("expiration");
  if (!exp || !exp->is_string() || !parse_iso8601(exp->as_string(), &p.expiration_ns))
    return invalid("Policy missing expiration, or it is not an ISO 8601 date in UTC (2026-12-30T12:00:00.000Z)");
  const json::value* conds = o.if_contains("conditions");
  if (!conds || !conds->is_array()) return invalid("Policy missing conditions");
  for (const auto& c : conds->as_array()) {
    if (c.is_object()) {
      for (const auto& [k, v] : c.as_object()) {
        if (!v.is_string()) return invalid("a condition's value must be a string");
        std::string field = ascii_lower(k);
        if (!field.empty() && field[0] == '$') field.erase(0, 1);
        p.conditions.push_back({"eq", field, std::string(v.as_string())});
      }
      continue;
    }
    if (!c.is_array() || c.as_array().size() != 3 || !c.as_array()[0].is_string())
      return invalid("a condition is an object or an array of three");
    const auto& a = c.as_array();
    std::string op = ascii_lower(a[0].as_string());
    if (op == "content-length-range") {
      KISEKI_ASSIGN_OR_RETURN(p.min_length, as_int(a[1]));
      KISEKI_ASSIGN_OR_RETURN(p.max_length, as_int(a[2]));
      if (p.min_length < 0 || p.max_length < p.min_length) return invalid("content-length-range is out of order");
      continue;
    }
    if (op != "eq" && op != "starts-with") return invalid("unknown condition " + op);
    if (!a[1].is_string() || !a[2].is_string()) return invalid("a condition's field and value are strings");
    std::string field = ascii_lower(a[1].as_string());
    if (field.empty() || field[0] != '$') return invalid("a condition's field starts with $");
    p.conditions.push_back({op, field.substr(1), std::string(a[2].as_string())});
  }
  return p;
}

Status check_post_policy(const PostPolicy& p, const std::map<std::string, std::string>& fields, int64_t now_ns) {
  if (now_ns > p.expiration_ns) return denied("Policy expired.");
  for (const auto& c : p.conditions) {
    auto it = fields.find(c.field);
    std::string value = it == fields.end() ? "" : it->second;
    bool ok;
    if (c.op == "eq") {
      ok = value == c.value;
    } else if (c.field == "content-type") {
      // Every one of a list of types must start so.
      ok = true;
      size_t pos = 0;
      do {
        size_t comma = value.find(',', pos);
        std::string one = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        while (!one.empty() && one.front() == ' ') one.erase(0, 1);
        ok = ok && one.starts_with(c.value);
        pos = comma == std::string::npos ? value.size() + 1 : comma + 1;
      } while (pos <= value.size());
    } else {
      ok = value.starts_with(c.value);
    }
    if (!ok) return denied("Policy Condition failed: " + describe(c));
  }
  for (const auto& [name, value] : fields) {
    if (name == "bucket" || name == "policy" || name == "x-amz-signature" || name == "signature" ||
        name == "awsaccesskeyid" || name == "file" || name.starts_with("x-ignore-"))
      continue;
    bool named = false;
    for (const auto& c : p.conditions) named = named || c.field == name;
    if (!named) return denied("Extra input fields: " + name);
  }
  return Status::ok();
}

}  // namespace kiseki::s3
