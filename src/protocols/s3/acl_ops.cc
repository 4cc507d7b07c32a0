// ACLs (Get/Put of bucket and object ACLs) and the access settings of a
// bucket: public access block and ownership controls. authorize.cc applies them.
#include "protocols/s3/handler_ctx.h"
#include "protocols/s3/xml.h"

namespace kiseki::s3 {

Response S3Handler::get_acl(Ctx& c) {
  c.op = c.req.key.empty() ? "GetBucketAcl" : "GetObjectAcl";
  auto ns = find_bucket(c, c.req.bucket);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = authorize(c, *ns, request_action(c), c.req.key); !st) return error(c, st, Subject::kBucket);
  auto access = access_of(*ns);
  if (!access) return error(c, access.status(), Subject::kBucket);
  std::string owner = std::to_string(ns->ref.tenant);
  Acl acl;
  if (!c.req.key.empty()) {
    auto h = open_named_version(ns->ref, c.req.key, c.req.param("versionId"));
    if (!h) return error(c, h.status(), Subject::kObject);
    const gateway::ObjectInfo* head = &h->info;
    if (auto t = head->meta.headers.find(kAclHeader); t != head->meta.headers.end()) {
      auto stored = decode_acl(t->second);
      if (!stored) return error(c, stored.status(), Subject::kObject);
      acl = std::move(*stored);
    }
  } else {
    acl = access->acl;
  }
  if (access->acls_disabled()) acl.clear();  // the owner's, and nobody else's
  return xml_response(acl_xml(acl, owner));
}

// PutBucketAcl / PutObjectAcl: a canned ACL, grant headers or a document.
Response S3Handler::put_acl(Ctx& c) {
  bool object = !c.req.key.empty();
  c.op = object ? "PutObjectAcl" : "PutBucketAcl";
  auto ns = find_bucket(c, c.req.bucket);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = authorize(c, *ns, request_action(c), c.req.key); !st) return error(c, st, Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto from_headers = acl_from_headers(c.req);
  if (!from_headers) return error(c, from_headers.status(), Subject::kBucket);
  Acl acl;
  if (*from_headers) {
    if (!body->empty())
      return error(c, make_s3_error(400, "UnexpectedContent", "This request does not support content with ACL headers"));
    acl = std::move(**from_headers);
  } else {
    if (body->empty())
      return error(c, make_s3_error(400, "MissingSecurityHeader", "Your request was missing a required header: an ACL"));
    auto parsed = parse_acl_xml(*body, std::to_string(ns->ref.tenant));
    if (!parsed) return error(c, parsed.status(), Subject::kBucket);
    acl = std::move(*parsed);
  }
  for (const auto& g : acl)
    if (g.kind == Grant::Kind::kAccount && !gw_->get_tenant(std::stoull(g.id)).is_ok())
      return error(c, make_s3_error(400, "InvalidArgument", "Invalid id: no account " + g.id));
  if (Status st = check_acl_write(*ns, acl); !st) return error(c, st, Subject::kBucket);
  if (object) {
    if (Status st = only_current_version(ns->ref, c.req); !st) return error(c, st, Subject::kObject);
    auto info = gw_->edit_object_meta(ns->ref, c.req.key, [&](gateway::ObjectMeta* m) {
      m->headers.erase(kAclHeader);
      if (!acl.empty()) m->headers[kAclHeader] = encode_acl(acl);
      return Status::ok();
    });
    if (!info) return error(c, info.status(), Subject::kObject);
  } else {
    // "private" (no grants) is kept too: it overrides a public-read creation.
    std::string doc = encode_acl(acl);
    Status st = gw_->put_namespace_config(ns->ref, kAclItem, doc.empty() ? std::string(kPrivateAcl) : doc);
    if (!st) return error(c, st, Subject::kBucket);
  }
  return Response{};
}

// ---- public access block

Response S3Handler::put_public_access_block(Ctx& c) {
  c.op = "PutPublicAccessBlock";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto p = parse_public_access_block(*body);
  if (!p) return error(c, p.status(), Subject::kBucket);
  Status st = gw_->put_namespace_config(*ns, kPublicAccessBlockItem, public_access_block_xml(*p));
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_public_access_block(Ctx& c) {
  c.op = "GetPublicAccessBlock";
  return config_document(c, kPublicAccessBlockItem,
                         make_s3_error(404, "NoSuchPublicAccessBlockConfiguration",
                                       "The public access block configuration was not found"));
}

Response S3Handler::delete_public_access_block(Ctx& c) {
  c.op = "DeletePublicAccessBlock";
  return drop_config(c, kPublicAccessBlockItem);
}

// ---- ownership controls

Response S3Handler::put_ownership_controls(Ctx& c) {
  c.op = "PutBucketOwnershipControls";
  auto ns = find_bucket(c, c.req.bucket);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  if (Status st = authorize(c, *ns, action_of(c.op), ""); !st) return error(c, st, Subject::kBucket);
  auto body = read_small_body(c, 64 << 10);
  if (!body) return error(c, body.status(), Subject::kBucket);
  auto o = parse_ownership_controls(*body);
  if (!o) return error(c, o.status(), Subject::kBucket);
  auto access = access_of(*ns);
  if (!access) return error(c, access.status(), Subject::kBucket);
  if (*o == "BucketOwnerEnforced" && !access->acl.empty())
    return error(c, make_s3_error(400, "InvalidBucketAclWithObjectOwnership",
                                  "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"));
  Status st = gw_->put_namespace_config(ns->ref, kOwnershipItem, *o);
  if (!st) return error(c, st, Subject::kBucket);
  return Response{};
}

Response S3Handler::get_ownership_controls(Ctx& c) {
  c.op = "GetBucketOwnershipControls";
  auto ns = bucket_ref(c);
  if (!ns) return error(c, ns.status(), Subject::kBucket);
  auto o = gw_->get_namespace_config(*ns, kOwnershipItem);
  if (o.code() == ErrorCode::kNotFound)
    return error(c, make_s3_error(404, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found"));
  if (!o) return error(c, o.status(), Subject::kBucket);
  return xml_response(ownership_controls_xml(*o));
}

Response S3Handler::delete_ownership_controls(Ctx& c) {
  c.op = "DeleteBucketOwnershipControls";
  return drop_config(c, kOwnershipItem);
}

}  // namespace kiseki::s3
