// A bucket's access settings besides its policy: the public access block
// (four switches) and object ownership (BucketOwnerEnforced turns ACLs off),
// kept as configuration items (ADR 0011) in the documents' own XML.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kiseki::s3 {

inline constexpr std::string_view kPublicAccessBlockItem = "public-access-block";
inline constexpr std::string_view kOwnershipItem = "ownership";

struct PublicAccessBlock {
  bool block_public_acls = false;       // refuse requests that set a public ACL
  bool ignore_public_acls = false;      // public grants count for nothing
  bool block_public_policy = false;     // refuse a public bucket policy
  bool restrict_public_buckets = false; // a public policy grants only the owner
};

Result<PublicAccessBlock> parse_public_access_block(std::string_view xml);
std::string public_access_block_xml(const PublicAccessBlock& p);

// <OwnershipControls><Rule><ObjectOwnership>…: BucketOwnerEnforced,
// BucketOwnerPreferred or ObjectWriter.
Result<std::string> parse_ownership_controls(std::string_view xml);
std::string ownership_controls_xml(std::string_view ownership);

}  // namespace kiseki::s3
