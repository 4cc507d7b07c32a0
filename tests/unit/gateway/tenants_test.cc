#include "fixture.h"
#include "namespace/state_machine.h"

namespace kiseki::gateway {

TEST_F(GatewayTest, TenantsNamespacesAccessKeys) {
  EXPECT_EQ(gw_->create_tenant("acme").code(), ErrorCode::kExists);
  EXPECT_EQ(gw_->find_tenant("acme")->id, tenant_);
  EXPECT_EQ(gw_->find_tenant("nobody").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->create_namespace(tenant_, "bucket").code(), ErrorCode::kExists);
  EXPECT_EQ(gw_->create_namespace(999, "x").code(), ErrorCode::kNotFound);
  auto other = *gw_->create_tenant("other");
  // Names are global, like S3 bucket names: another tenant's is refused.
  auto taken = gw_->create_namespace(other, "bucket");
  EXPECT_EQ(taken.code(), ErrorCode::kExists);
  EXPECT_TRUE(taken.status().message().starts_with("BucketAlreadyExists:")) << taken.status().message();
  ASSERT_TRUE(gw_->create_namespace(other, "other-bucket").is_ok());
  EXPECT_EQ(gw_->list_tenants().size(), 2u);
  EXPECT_EQ(gw_->list_namespaces(tenant_).size(), 1u);
  auto key = gw_->create_access_key(tenant_);
  ASSERT_TRUE(key.is_ok());
  EXPECT_EQ(key->access_key_id.size(), 20u);
  EXPECT_EQ(key->secret_key.size(), 40u);
  reopen();
  auto back = gw_->get_access_key(key->access_key_id);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->secret_key, key->secret_key);
  EXPECT_EQ(back->tenant, tenant_);
  ASSERT_TRUE(gw_->put_access_key({"ROOTKEY", "rootsecret123", tenant_}).is_ok());
  EXPECT_EQ(gw_->get_access_key("ROOTKEY")->secret_key, "rootsecret123");
  ASSERT_TRUE(gw_->delete_access_key(key->access_key_id).is_ok());
  EXPECT_EQ(gw_->get_access_key(key->access_key_id).code(), ErrorCode::kNotFound);
  // A namespace with content cannot be deleted; an empty one can.
  put("k", "v");
  EXPECT_EQ(gw_->delete_namespace(tenant_, "bucket").code(), ErrorCode::kNotEmpty);
  ASSERT_TRUE(gw_->delete_object(ns_, "k").is_ok());
  ASSERT_TRUE(gw_->delete_namespace(tenant_, "bucket").is_ok());
  EXPECT_EQ(gw_->find_namespace(tenant_, "bucket").code(), ErrorCode::kNotFound);
  // A deleted name is free again, for anyone.
  ASSERT_TRUE(gw_->create_namespace(other, "bucket").is_ok());
  reopen();
  EXPECT_EQ(gw_->create_namespace(tenant_, "bucket").code(), ErrorCode::kExists);
  // A shredded tenant's names are free at once.
  TenantId gone = *gw_->create_tenant("gone");
  ASSERT_TRUE(gw_->create_namespace(gone, "gone-ns").is_ok());
  EXPECT_EQ(gw_->create_namespace(tenant_, "gone-ns").code(), ErrorCode::kExists);
  ASSERT_TRUE(gw_->shred_tenant(gone).is_ok());
  EXPECT_TRUE(gw_->create_namespace(tenant_, "gone-ns").is_ok());
}

// ADR 0011: configuration items of a namespace.
TEST_F(GatewayTest, NamespaceConfigItems) {
  EXPECT_EQ(gw_->get_namespace_config(ns_, "cors").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(gw_->put_namespace_config(ns_, "cors", "first").is_ok());
  ASSERT_TRUE(gw_->put_namespace_config(ns_, "tagging", "a=b").is_ok());
  EXPECT_EQ(*gw_->get_namespace_config(ns_, "cors"), "first");
  ASSERT_TRUE(gw_->put_namespace_config(ns_, "cors", "second").is_ok());
  EXPECT_EQ(*gw_->get_namespace_config(ns_, "cors"), "second") << "a cached document outlived its change";
  // Another tenant's ref to the namespace gets nothing, and changes nothing.
  TenantId other = *gw_->create_tenant("other");
  NsRef forged{other, ns_.ns};
  EXPECT_EQ(gw_->get_namespace_config(forged, "cors").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->put_namespace_config(forged, "cors", "x").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->put_namespace_config(ns_, "", "x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->put_namespace_config(ns_, "big", std::string((64 << 10) + 1, 'x')).code(),
            ErrorCode::kInvalidArgument);
  reopen();
  EXPECT_EQ(*gw_->get_namespace_config(ns_, "cors"), "second");
  ASSERT_TRUE(gw_->put_namespace_config(ns_, "cors", "").is_ok());  // an empty document removes it
  EXPECT_EQ(gw_->get_namespace_config(ns_, "cors").code(), ErrorCode::kNotFound);
  EXPECT_EQ(*gw_->get_namespace_config(ns_, "tagging"), "a=b");
  // The items go with the namespace: a namespace made again under the name has none.
  ASSERT_TRUE(gw_->delete_namespace(tenant_, "bucket").is_ok());
  NsRef again = *gw_->create_namespace(tenant_, "bucket");
  EXPECT_EQ(gw_->get_namespace_config(again, "tagging").code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->get_namespace_config(ns_, "tagging").code(), ErrorCode::kNotFound);
  std::string left;
  EXPECT_EQ(gw_->store_for_test()->get(meta::Cf::kNamespaces, ns::ns_config_key(ns_.ns, "tagging"), &left).code(),
            ErrorCode::kNotFound);
}

TEST_F(GatewayTest, DedupDoesNotCrossTenants) {
  auto other = *gw_->create_tenant("other");
  NsRef ons = *gw_->create_namespace(other, "b");
  std::string data = kiseki::testing::random_bytes(4 << 20, 3);
  put("x", data);
  uint64_t before = segment_bytes();
  put("x", data, ons);
  EXPECT_GE(segment_bytes() - before, data.size()) << "another tenant's identical data is stored again";
}

// Crypto-shred: after a tenant is shredded its data cannot be read, through any
// path, also not after a restart; other tenants sharing nothing are unaffected.
TEST_F(GatewayTest, CryptoShred) {
  auto other = *gw_->create_tenant("other");
  NsRef ons = *gw_->create_namespace(other, "b");
  std::string secret = kiseki::testing::random_bytes(1 << 20, 4);
  put("doc", secret);
  put("small", "inline secret");
  put("keep", "other tenant data", ons);
  auto f = *gw_->lookup(ns_, ns::kRootInode, "doc");
  EXPECT_EQ(get("doc"), secret);  // warm every read path first
  ASSERT_TRUE(gw_->shred_tenant(tenant_).is_ok());
  EXPECT_TRUE(gw_->get_tenant(tenant_)->shredded);
  EXPECT_EQ(gw_->get_object(ns_, "doc", {}, nullptr).code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->get_object(ns_, "small", {}, nullptr).code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->read(ns_, f.ino, 0, 100).code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->head_object(ns_, "doc").code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->list_objects(ns_, {}).code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->put_object(ns_, "new", source_from(as_bytes("x")), {}).code(), ErrorCode::kCryptoShredded);
  reopen();
  EXPECT_EQ(gw_->get_object(ns_, "doc", {}, nullptr).code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(get("keep", ons), "other tenant data");
  // No plaintext of the shredded tenant is left in the metadata store.
  auto it = gw_->store_for_test()->iterator(meta::Cf::kInodes);
  for (it->SeekToFirst(); it->Valid(); it->Next())
    EXPECT_EQ(it->value().ToStringView().find("inline secret"), std::string_view::npos);
}

}  // namespace kiseki::gateway
