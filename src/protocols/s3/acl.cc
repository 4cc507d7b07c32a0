#include "protocols/s3/acl.h"

#include <pugixml.hpp>

#include <algorithm>

#include "common/text.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

constexpr std::string_view kAllUsersUri = "http://acs.amazonaws.com/groups/global/AllUsers";
constexpr std::string_view kAuthUsersUri = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

struct PermName {
  Permission perm;
  std::string_view name;    // in documents
  std::string_view header;  // x-amz-grant-…
};
constexpr PermName kPerms[] = {
    {Permission::kRead, "READ", "x-amz-grant-read"},
    {Permission::kWrite, "WRITE", "x-amz-grant-write"},
    {Permission::kReadAcp, "READ_ACP", "x-amz-grant-read-acp"},
    {Permission::kWriteAcp, "WRITE_ACP", "x-amz-grant-write-acp"},
    {Permission::kFullControl, "FULL_CONTROL", "x-amz-grant-full-control"},
};

std::string_view perm_name(Permission p) {
  for (const auto& n : kPerms)
    if (n.perm == p) return n.name;
  return "READ";
}

Status bad(const std::string& m) { return invalid_argument(m); }

bool is_account_id(std::string_view id) {
  return !id.empty() && id.size() <= 20 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One grantee: an account id, a group URI or an e-mail address.
Result<Grant> grantee(std::string_view type, std::string_view value, Permission perm) {
  Grant g;
  g.perm = perm;
  if (type == "id") {
    if (!is_account_id(value)) return bad("InvalidArgument: Invalid id");
    g.id = std::string(value);
  } else if (type == "uri") {
    if (value == kAllUsersUri) g.kind = Grant::Kind::kAllUsers;
    else if (value == kAuthUsersUri) g.kind = Grant::Kind::kAuthenticatedUsers;
    else return bad("InvalidArgument: Invalid group uri");
  } else if (type == "emailaddress") {
    return bad("UnresolvableGrantByEmailAddress: The e-mail address you provided does not match any account on "
               "record (Kiseki's accounts have no e-mail addresses; grant by id)");
  } else {
    return bad("InvalidArgument: a grantee is id=, uri= or emailAddress=");
  }
  return g;
}

Result<Acl> canned(std::string_view name) {
  using K = Grant::Kind;
  if (name == "private" || name == "bucket-owner-read" || name == "bucket-owner-full-control") return Acl{};
  if (name == "public-read") return Acl{{K::kAllUsers, "", Permission::kRead}};
  if (name == "public-read-write") return Acl{{K::kAllUsers, "", Permission::kRead}, {K::kAllUsers, "", Permission::kWrite}};
  if (name == "authenticated-read") return Acl{{K::kAuthenticatedUsers, "", Permission::kRead}};
  return bad("InvalidArgument: the canned ACL " + std::string(name) + " is not one S3 has");
}

void add(Acl* acl, Grant g) {
  if (std::find(acl->begin(), acl->end(), g) == acl->end()) acl->push_back(std::move(g));
}

}  // namespace

Result<std::optional<Acl>> acl_from_headers(const S3Request& q) {
  const std::string* c = q.header("x-amz-acl");
  // Every PUT asks: one look for any x-amz-grant-* header (the names sort
  // together) before looking for each.
  auto first = q.headers.lower_bound("x-amz-grant-");
  bool grants = false;
  if (first != q.headers.end() && first->first.starts_with("x-amz-grant-"))
    for (const auto& p : kPerms) grants = grants || q.header(std::string(p.header));
  if (c && grants) return bad("InvalidRequest: Specifying both Canned ACLs and Header Grants is not allowed");
  if (c) {
    KISEKI_ASSIGN_OR_RETURN(Acl acl, canned(*c));
    return std::optional<Acl>(std::move(acl));
  }
  if (!grants) return std::optional<Acl>();
  Acl acl;
  for (const auto& p : kPerms) {
    const std::string* v = q.header(std::string(p.header));
    if (!v) continue;
    // id="123", uri="http://…", emailAddress="a@b"
    std::string_view rest = *v;
    while (!trim_blanks(rest).empty()) {
      size_t comma = rest.find(',');
      std::string_view one = trim_blanks(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t eq = one.find('=');
      if (eq == std::string_view::npos) return bad("InvalidArgument: a grant is type=\"value\"");
      std::string_view value = trim_blanks(one.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      KISEKI_ASSIGN_OR_RETURN(Grant g, grantee(ascii_lower(trim_blanks(one.substr(0, eq))), value, p.perm));
      add(&acl, std::move(g));
    }
  }
  return std::optional<Acl>(std::move(acl));
}

Result<Acl> parse_acl_xml(std::string_view body, std::string_view owner) {
  pugi::xml_document doc;
  auto r = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return bad(std::string("MalformedACLError: ") + r.description());
  auto root = doc.child("AccessControlPolicy");
  auto list = root.child("AccessControlList");
  if (!root || !list) return bad("MalformedACLError: The XML you provided was not well-formed or did not validate");
  if (auto o = root.child("Owner").child("ID"); o && std::string_view(o.child_value()) != owner)
    return bad("InvalidArgument: the Owner of an ACL is the bucket's owner");
  Acl acl;
  for (auto g : list.children("Grant")) {
    std::string_view perm_text = g.child_value("Permission");
    const PermName* p = nullptr;
    for (const auto& n : kPerms)
      if (n.name == perm_text) p = &n;
    if (!p) return bad("MalformedACLError: unknown Permission " + std::string(perm_text));
    auto who = g.child("Grantee");
    std::string_view type = who.attribute("xsi:type").value();
    Result<Grant> one = bad("MalformedACLError: a Grantee without an ID, URI or EmailAddress");
    if (type == "CanonicalUser" || (type.empty() && who.child("ID"))) one = grantee("id", who.child_value("ID"), p->perm);
    else if (type == "Group" || (type.empty() && who.child("URI"))) one = grantee("uri", who.child_value("URI"), p->perm);
    else if (type == "AmazonCustomerByEmail") one = grantee("emailaddress", who.child_value("EmailAddress"), p->perm);
    if (!one) return one.status();
    if (one->kind == Grant::Kind::kAccount && one->id == owner) continue;  // the owner's is implicit
    add(&acl, std::move(*one));
  }
  return acl;
}

std::string acl_xml(const Acl& acl, std::string_view owner) {
  std::string xsi = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>" +
                    xml_escape(owner) + "</ID><DisplayName>" + xml_escape(owner) + "</DisplayName></Owner>"
                    "<AccessControlList>";
  auto grant = [&](const std::string& who, std::string_view perm) {
    out += "<Grant>" + who + "<Permission>" + std::string(perm) + "</Permission></Grant>";
  };
  auto user = [&](std::string_view id) {
    return "<Grantee " + xsi + "xsi:type=\"CanonicalUser\"><ID>" + xml_escape(id) + "</ID><DisplayName>" +
           xml_escape(id) + "</DisplayName></Grantee>";
  };
  grant(user(owner), "FULL_CONTROL");
  for (const auto& g : acl) {
    if (g.kind == Grant::Kind::kAccount) {
      grant(user(g.id), perm_name(g.perm));
    } else {
      std::string_view uri = g.kind == Grant::Kind::kAllUsers ? kAllUsersUri : kAuthUsersUri;
      grant("<Grantee " + xsi + "xsi:type=\"Group\"><URI>" + std::string(uri) + "</URI></Grantee>", perm_name(g.perm));
    }
  }
  return out + "</AccessControlList></AccessControlPolicy>";
}

// One grant a line: "a <id> PERM", "g all PERM" or "g auth PERM".
std::string encode_acl(const Acl& acl) {
  std::string out;
  for (const auto& g : acl) {
    if (!out.empty()) out += '\n';
    switch (g.kind) {
      case Grant::Kind::kAccount: out += "a " + g.id; break;
      case Grant::Kind::kAllUsers: out += "g all"; break;
      case Grant::Kind::kAuthenticatedUsers: out += "g auth"; break;
    }
    out += " " + std::string(perm_name(g.perm));
  }
  return out;
}

Result<Acl> decode_acl(std::string_view stored) {
  Acl acl;
  if (stored == kPrivateAcl) return acl;
  while (!stored.empty()) {
    size_t nl = stored.find('\n');
    std::string_view line = stored.substr(0, nl);
    stored = nl == std::string_view::npos ? std::string_view() : stored.substr(nl + 1);
    size_t s1 = line.find(' '), s2 = line.rfind(' ');
    if (s1 == std::string_view::npos || s1 == s2) return corruption("stored ACL");
    std::string_view kind = line.substr(0, s1), who = line.substr(s1 + 1, s2 - s1 - 1), perm = line.substr(s2 + 1);
    Grant g;
    const PermName* p = nullptr;
    for (const auto& n : kPerms)
      if (n.name == perm) p = &n;
    if (!p) return corruption("stored ACL");
    g.perm = p->perm;
    if (kind == "a") g.id = std::string(who);
    else if (who == "all") g.kind = Grant::Kind::kAllUsers;
    else if (who == "auth") g.kind = Grant::Kind::kAuthenticatedUsers;
    else return corruption("stored ACL");
    acl.push_back(std::move(g));
  }
  return acl;
}

bool acl_allows(const Acl& acl, bool anonymous, std::string_view account, Permission need, bool ignore_public) {
  for (const auto& g : acl) {
    if (g.perm != need && g.perm != Permission::kFullControl) continue;
    switch (g.kind) {
      case Grant::Kind::kAccount:
        if (!anonymous && g.id == account) return true;
        break;
      case Grant::Kind::kAllUsers:
        if (!ignore_public) return true;
        break;
      case Grant::Kind::kAuthenticatedUsers:
        if (!ignore_public && !anonymous) return true;
        break;
    }
  }
  return false;
}

bool acl_is_public(const Acl& acl) {
  return std::any_of(acl.begin(), acl.end(), [](const Grant& g) { return g.kind != Grant::Kind::kAccount; });
}

}  // namespace kiseki::s3
