#include "protocols/s3/policy.h"

#include <arpa/inet.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>

#include "common/text.h"
#include "protocols/s3/dates.h"

namespace kiseki::s3 {

namespace json = boost::json;
using Condition = BucketPolicy::Condition;
using Statement = BucketPolicy::Statement;

namespace {

Status malformed(const std::string& m) { return invalid_argument("MalformedPolicy: " + m); }

constexpr std::string_view kArnPrefix = "arn:aws:s3:::";
constexpr size_t kMaxPolicyBytes = 20 << 10;

// The operators, each with whether it negates (true when the key is absent).
struct OpInfo {
  std::string_view name;
  bool negated;
};
constexpr OpInfo kOps[] = {
    {"StringEquals", false}, {"StringNotEquals", true}, {"StringEqualsIgnoreCase", false},
    {"StringNotEqualsIgnoreCase", true}, {"StringLike", false}, {"StringNotLike", true},
    {"NumericEquals", false}, {"NumericNotEquals", true}, {"NumericLessThan", false},
    {"NumericLessThanEquals", false}, {"NumericGreaterThan", false}, {"NumericGreaterThanEquals", false},
    {"DateEquals", false}, {"DateNotEquals", true}, {"DateLessThan", false}, {"DateLessThanEquals", false},
    {"DateGreaterThan", false}, {"DateGreaterThanEquals", false}, {"Bool", false}, {"IpAddress", false},
    {"NotIpAddress", true}, {"Null", false}, {"ArnEquals", false}, {"ArnLike", false},
    {"ArnNotEquals", true}, {"ArnNotLike", true},
};

const OpInfo* find_op(std::string_view name) {
  for (const auto& o : kOps)
    if (o.name == name) return &o;
  return nullptr;
}

// A string or an array of strings (numbers and booleans written as text).
Result<std::vector<std::string>> strings(const json::value& v, const char* what) {
  std::vector<std::string> out;
  auto one = [&](const json::value& x) -> Status {
    if (x.is_string()) out.emplace_back(x.as_string());
    else if (x.is_bool()) out.emplace_back(x.as_bool() ? "true" : "false");
    else if (x.is_int64()) out.push_back(std::to_string(x.as_int64()));
    else if (x.is_uint64()) out.push_back(std::to_string(x.as_uint64()));
    else if (x.is_double()) out.push_back(json::serialize(x));
    else return malformed(std::string(what) + " must be a string or a list of strings");
    return Status::ok();
  };
  if (v.is_array()) {
    for (const auto& x : v.as_array()) KISEKI_TRY(one(x));
  } else {
    KISEKI_TRY(one(v));
  }
  if (out.empty()) return malformed(std::string(what) + " is empty");
  return out;
}

Status parse_principal(const json::value& v, Statement* s) {
  if (v.is_string()) {
    if (v.as_string() != "*") return malformed("Invalid principal in policy");
    s->any_principal = true;
    return Status::ok();
  }
  if (!v.is_object()) return malformed("Invalid principal in policy");
  for (const auto& [kind, ids] : v.as_object()) {
    if (kind != "AWS" && kind != "CanonicalUser") return malformed("Invalid principal in policy");
    KISEKI_ASSIGN_OR_RETURN(auto list, strings(ids, "Principal"));
    for (auto& id : list) {
      if (id == "*") {
        s->any_principal = true;
        continue;
      }
      // "123", "arn:aws:iam::123:root": the account (a tenant's id);
      // "arn:aws:iam::123:user/NAME": one user of it.
      std::string user;
      if (id.starts_with("arn:aws:iam::")) {
        std::string rest = id.substr(13);
        size_t colon = rest.find(':');
        std::string what = colon == std::string::npos ? "" : rest.substr(colon + 1);
        if (what.starts_with("user/") && what.size() > 5) user = what.substr(5);
        else if (what != "root")
          return malformed("Invalid principal in policy: " + id + " (arn:aws:iam::ID:root or arn:aws:iam::ID:user/NAME)");
        id = rest.substr(0, colon);
      }
      if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return malformed("Invalid principal in policy: " + id);
      s->principals.push_back(user.empty() ? id : id + ":user/" + user);
    }
  }
  return Status::ok();
}

Status parse_conditions(const json::value& v, Statement* s) {
  if (!v.is_object()) return malformed("Condition must be an object");
  for (const auto& [op_text, keys] : v.as_object()) {
    Condition c;
    std::string_view op = op_text;
    if (op.starts_with("ForAnyValue:")) {
      c.set = Condition::Set::kAnyValue;
      op.remove_prefix(12);
    } else if (op.starts_with("ForAllValues:")) {
      c.set = Condition::Set::kAllValues;
      op.remove_prefix(13);
    }
    if (op.ends_with("IfExists")) {
      c.if_exists = true;
      op.remove_suffix(8);
    }
    if (!find_op(op)) return malformed("Invalid Condition type : " + std::string(op_text));
    c.op = std::string(op);
    if (!keys.is_object()) return malformed("a Condition's operator takes an object of keys");
    for (const auto& [key, values] : keys.as_object()) {
      Condition k = c;
      // Key names match in any case; what follows a '/' (a tag's key) keeps its case.
      std::string_view name = key;
      size_t slash = name.find('/');
      k.key = ascii_lower(name.substr(0, slash)) + std::string(slash == std::string_view::npos ? "" : name.substr(slash));
      KISEKI_ASSIGN_OR_RETURN(k.values, strings(values, "a condition's value"));
      s->conditions.push_back(std::move(k));
    }
  }
  return Status::ok();
}

// ---- condition operators

bool parse_number(std::string_view s, double* out) {
  std::string str(s);
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return !str.empty() && *end == '\0';
}

bool parse_date(std::string_view s, double* out) {
  if (parse_number(s, out)) return true;  // epoch seconds
  int64_t ns = 0;
  if (!parse_iso8601(s, &ns)) return false;
  *out = static_cast<double>(ns) / 1e9;
  return true;
}

// An address in a CIDR block ("10.0.0.0/8", "2001:db8::/32", a bare address).
bool in_cidr(std::string_view cidr, std::string_view ip) {
  std::string block(cidr.substr(0, cidr.find('/')));
  int bits = -1;
  if (size_t slash = cidr.find('/'); slash != std::string_view::npos) {
    std::string b(cidr.substr(slash + 1));
    char* end = nullptr;
    bits = static_cast<int>(std::strtol(b.c_str(), &end, 10));
    if (b.empty() || *end != '\0') return false;
  }
  uint8_t want[16], got[16];
  std::string addr(ip);
  int family = block.find(':') == std::string::npos ? AF_INET : AF_INET6;
  size_t len = family == AF_INET ? 4 : 16;
  if (inet_pton(family, block.c_str(), want) != 1) return false;
  // An IPv4 client may be seen as ::ffff:a.b.c.d.
  bool ok = inet_pton(family, addr.c_str(), got) == 1 ||
            (family == AF_INET && addr.starts_with("::ffff:") && inet_pton(AF_INET, addr.c_str() + 7, got) == 1);
  if (!ok) return false;
  if (bits < 0) bits = static_cast<int>(len * 8);
  if (bits > static_cast<int>(len * 8)) return false;
  for (int i = 0; i < bits; ++i) {
    uint8_t m = static_cast<uint8_t>(0x80 >> (i % 8));
    if ((want[i / 8] & m) != (got[i / 8] & m)) return false;
  }
  return true;
}

// One request value against one policy value, for a positive operator (the
// negated ones are its complement).
bool matches(std::string_view op, std::string_view want, std::string_view got) {
  if (op == "StringEquals" || op == "StringNotEquals" || op == "ArnEquals" || op == "ArnNotEquals") return want == got;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase") return ascii_lower(want) == ascii_lower(got);
  if (op == "StringLike" || op == "StringNotLike" || op == "ArnLike" || op == "ArnNotLike") return glob_match(want, got);
  if (op == "Bool") return ascii_lower(want) == ascii_lower(got);
  if (op == "IpAddress" || op == "NotIpAddress") return in_cidr(want, got);
  double w, g;
  if (op.starts_with("Numeric")) {
    if (!parse_number(want, &w) || !parse_number(got, &g)) return false;
    op.remove_prefix(7);
  } else if (op.starts_with("Date")) {
    if (!parse_date(want, &w) || !parse_date(got, &g)) return false;
    op.remove_prefix(4);
  } else {
    return false;
  }
  if (op == "Equals" || op == "NotEquals") return g == w;
  if (op == "LessThan") return g < w;
  if (op == "LessThanEquals") return g <= w;
  if (op == "GreaterThan") return g > w;
  if (op == "GreaterThanEquals") return g >= w;
  return false;
}

bool condition_holds(const Condition& c, const PolicyRequest& r) {
  std::optional<std::vector<std::string>> got = r.context ? r.context(c.key) : std::nullopt;
  if (c.op == "Null") {
    bool absent = !got || got->empty();
    return std::any_of(c.values.begin(), c.values.end(), [&](const auto& v) { return (ascii_lower(v) == "true") == absent; });
  }
  bool negated = find_op(c.op)->negated;
  if (!got || got->empty()) {
    if (c.set == Condition::Set::kAllValues) return true;
    return c.if_exists || negated;
  }
  auto one = [&](const std::string& value) {
    bool any = std::any_of(c.values.begin(), c.values.end(), [&](const auto& w) { return matches(c.op, w, value); });
    return negated ? !any : any;
  };
  switch (c.set) {
    case Condition::Set::kAllValues: return std::all_of(got->begin(), got->end(), one);
    case Condition::Set::kAnyValue: return std::any_of(got->begin(), got->end(), one);
    case Condition::Set::kSingle: return one(got->front());
  }
  return false;
}

bool applies(const Statement& s, const PolicyRequest& r) {
  bool who = s.any_principal;
  if (!who && !r.anonymous) {
    std::string as_user = r.user.empty() ? "" : r.account + ":user/" + r.user;
    who = std::any_of(s.principals.begin(), s.principals.end(),
                      [&](const std::string& p) { return p == r.account || (!as_user.empty() && p == as_user); });
  }
  if (who == s.not_principal) return false;
  bool act = std::any_of(s.actions.begin(), s.actions.end(), [&](const auto& a) { return glob_match(a, r.action, true); });
  if (act == s.not_action) return false;
  bool res = std::any_of(s.resources.begin(), s.resources.end(), [&](const auto& p) { return glob_match(p, r.resource); });
  if (res == s.not_resource) return false;
  return std::all_of(s.conditions.begin(), s.conditions.end(), [&](const auto& c) { return condition_holds(c, r); });
}

}  // namespace

bool glob_match(std::string_view p, std::string_view s, bool fold) {
  auto eq = [fold](char a, char b) {
    if (fold) {
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    }
    return a == b;
  };
  // Iterative, with one backtrack point (the last '*'): linear in practice.
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], s[si])))) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

Result<BucketPolicy> BucketPolicy::parse(std::string_view text, std::string_view bucket) {
  if (text.size() > kMaxPolicyBytes) return malformed("Policies must be no more than 20 KB");
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return malformed("This policy contains invalid Json");
  const auto& o = doc.as_object();
  if (const auto* v = o.if_contains("Version"); v && (!v->is_string() || (v->as_string() != "2012-10-17" &&
                                                                         v->as_string() != "2008-10-17")))
    return malformed("The policy must contain a valid version string");
  const json::value* st = o.if_contains("Statement");
  if (!st) return malformed("Missing required field Statement");
  std::vector<const json::value*> list;
  if (st->is_array())
    for (const auto& x : st->as_array()) list.push_back(&x);
  else
    list.push_back(st);
  if (list.empty()) return malformed("Missing required field Statement");
  BucketPolicy p;
  for (const json::value* x : list) {
    if (!x->is_object()) return malformed("a Statement must be an object");
    const auto& so = x->as_object();
    Statement s;
    const json::value* effect = so.if_contains("Effect");
    if (!effect || !effect->is_string() || (effect->as_string() != "Allow" && effect->as_string() != "Deny"))
      return malformed("Invalid effect: a Statement's Effect is Allow or Deny");
    s.allow = effect->as_string() == "Allow";
    const json::value* pr = so.if_contains("Principal");
    const json::value* npr = so.if_contains("NotPrincipal");
    if (!pr == !npr) return malformed("a Statement needs one Principal or NotPrincipal");
    s.not_principal = npr != nullptr;
    KISEKI_TRY(parse_principal(pr ? *pr : *npr, &s));
    const json::value* act = so.if_contains("Action");
    const json::value* nact = so.if_contains("NotAction");
    if (!act == !nact) return malformed("Missing required field Action");
    s.not_action = nact != nullptr;
    KISEKI_ASSIGN_OR_RETURN(auto actions, strings(act ? *act : *nact, "Action"));
    for (auto& a : actions) {
      if (a != "*" && !ascii_lower(a).starts_with("s3:")) return malformed("Policy has invalid action: " + a);
      s.actions.push_back(ascii_lower(a));
    }
    const json::value* res = so.if_contains("Resource");
    const json::value* nres = so.if_contains("NotResource");
    if (!res == !nres) return malformed("Missing required field Resource");
    s.not_resource = nres != nullptr;
    KISEKI_ASSIGN_OR_RETURN(s.resources, strings(res ? *res : *nres, "Resource"));
    for (const auto& r : s.resources) {
      std::string_view rest = r;
      if (!rest.starts_with(kArnPrefix)) return malformed("Policy has invalid resource: " + r);
      rest.remove_prefix(kArnPrefix.size());
      std::string_view b = rest.substr(0, rest.find('/'));
      // The bucket's own resources only (its name may be matched by a pattern).
      if (!glob_match(b, bucket)) return malformed("Policy has invalid resource: " + r);
    }
    if (const json::value* c = so.if_contains("Condition")) KISEKI_TRY(parse_conditions(*c, &s));
    p.statements_.push_back(std::move(s));
  }
  return p;
}

PolicyDecision BucketPolicy::evaluate(const PolicyRequest& r) const {
  PolicyDecision d = PolicyDecision::kNone;
  for (const auto& s : statements_) {
    if (!applies(s, r)) continue;
    if (!s.allow) return PolicyDecision::kDeny;
    d = PolicyDecision::kAllow;
  }
  return d;
}

bool BucketPolicy::is_public() const {
  static constexpr std::string_view kNarrowing[] = {"aws:sourceip", "aws:sourcevpc", "aws:sourcevpce",
                                                    "aws:sourcearn", "aws:sourceaccount", "aws:principalaccount",
                                                    "aws:principalorgid", "aws:userid"};
  for (const auto& s : statements_) {
    if (!s.allow || !s.any_principal || s.not_principal) continue;
    bool narrowed = std::any_of(s.conditions.begin(), s.conditions.end(), [](const Condition& c) {
      return std::find(std::begin(kNarrowing), std::end(kNarrowing), c.key) != std::end(kNarrowing);
    });
    if (!narrowed) return true;
  }
  return false;
}

}  // namespace kiseki::s3
