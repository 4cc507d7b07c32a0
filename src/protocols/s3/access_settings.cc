#include "protocols/s3/access_settings.h"

#include <pugixml.hpp>

#include "protocols/s3/xml.h"

namespace kiseki::s3 {

namespace {

Result<pugi::xml_node> root_of(pugi::xml_document& doc, std::string_view xml, const char* name) {
  auto r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) return invalid_argument(std::string("MalformedXML: ") + r.description());
  auto root = doc.child(name);
  if (!root) return invalid_argument(std::string("MalformedXML: expected ") + name);
  return root;
}

Result<bool> flag(pugi::xml_node root, const char* name) {
  auto n = root.child(name);
  if (!n) return false;
  std::string_view v = n.child_value();
  if (v != "true" && v != "false") return invalid_argument(std::string("MalformedXML: ") + name + " is true or false");
  return v == "true";
}

}  // namespace

Result<PublicAccessBlock> parse_public_access_block(std::string_view xml) {
  pugi::xml_document doc;
  KISEKI_ASSIGN_OR_RETURN(auto root, root_of(doc, xml, "PublicAccessBlockConfiguration"));
  PublicAccessBlock p;
  KISEKI_ASSIGN_OR_RETURN(p.block_public_acls, flag(root, "BlockPublicAcls"));
  KISEKI_ASSIGN_OR_RETURN(p.ignore_public_acls, flag(root, "IgnorePublicAcls"));
  KISEKI_ASSIGN_OR_RETURN(p.block_public_policy, flag(root, "BlockPublicPolicy"));
  KISEKI_ASSIGN_OR_RETURN(p.restrict_public_buckets, flag(root, "RestrictPublicBuckets"));
  return p;
}

std::string public_access_block_xml(const PublicAccessBlock& p) {
  auto tf = [](bool b) { return b ? "true" : "false"; };
  XmlWriter x;
  x.open("PublicAccessBlockConfiguration", true).leaf("BlockPublicAcls", tf(p.block_public_acls));
  x.leaf("IgnorePublicAcls", tf(p.ignore_public_acls)).leaf("BlockPublicPolicy", tf(p.block_public_policy));
  x.leaf("RestrictPublicBuckets", tf(p.restrict_public_buckets)).close("PublicAccessBlockConfiguration");
  return x.take();
}

Result<std::string> parse_ownership_controls(std::string_view xml) {
  pugi::xml_document doc;
  KISEKI_ASSIGN_OR_RETURN(auto root, root_of(doc, xml, "OwnershipControls"));
  std::string v = root.child("Rule").child_value("ObjectOwnership");
  if (v != "BucketOwnerEnforced" && v != "BucketOwnerPreferred" && v != "ObjectWriter")
    return invalid_argument("MalformedXML: ObjectOwnership is BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter");
  return v;
}

std::string ownership_controls_xml(std::string_view ownership) {
  XmlWriter x;
  x.open("OwnershipControls", true).open("Rule").leaf("ObjectOwnership", ownership).close("Rule");
  return x.close("OwnershipControls").take();
}

}  // namespace kiseki::s3
