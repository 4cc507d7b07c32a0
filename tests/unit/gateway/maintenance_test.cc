// Gateway::usage, list_access_keys and backup: what an operator reads and keeps.
#include <algorithm>
#include <filesystem>
#include <map>

#include "fixture.h"
#include "namespace/state_machine.h"
#include "support/temp_dir.h"

namespace kiseki::gateway {
namespace {

namespace fs = std::filesystem;

class MaintenanceTest : public GatewayTest {};

TEST_F(MaintenanceTest, UsageCountsFilesBytesAndDedupOncePerScope) {
  std::string big = kiseki::testing::random_bytes(600000, 1);
  put("a/one", big);
  put("b/two", big);  // the same bytes: the same chunks
  put("small", "inline bytes");
  TenantId other = *gw_->create_tenant("other");
  NsRef ons = *gw_->create_namespace(other, "theirs");
  put("copy", big, ons);  // another tenant's domain: its own chunks

  auto u = gw_->usage();
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  const NamespaceUsage* mine = nullptr;
  for (const auto& n : u->namespaces)
    if (n.ns.ref.ns == ns_.ns) mine = &n;
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->counts.files, 3u);
  EXPECT_EQ(mine->counts.dirs, 2u);
  EXPECT_EQ(mine->counts.logical_bytes, 2 * big.size() + 12);
  EXPECT_EQ(mine->counts.inline_files, 1u);
  EXPECT_EQ(mine->counts.inline_bytes, 12u);
  // Each chunk once: stored is one copy of `big` plus the seal's overhead.
  EXPECT_GT(mine->counts.chunk_bytes, big.size());
  EXPECT_LT(mine->counts.chunk_bytes, big.size() + big.size() / 50);
  EXPECT_EQ(u->total.files, 4u);
  EXPECT_EQ(u->total.logical_bytes, 3 * big.size() + 12);
  // Two domains, two sets of chunks.
  EXPECT_GT(u->total.chunk_bytes, 2 * big.size());
  ASSERT_EQ(u->tenants.size(), 2u);

  ASSERT_TRUE(gw_->delete_object(ns_, "b/two").is_ok());
  u = gw_->usage();
  ASSERT_TRUE(u.is_ok());
  for (const auto& n : u->namespaces) {
    if (n.ns.ref.ns == ns_.ns) {
      EXPECT_EQ(n.counts.files, 2u);
    }
  }
}

TEST_F(MaintenanceTest, AccessKeysListedPerTenantWithoutSecrets) {
  auto k1 = gw_->create_access_key(tenant_);
  auto k2 = gw_->create_access_key(tenant_);
  TenantId other = *gw_->create_tenant("other");
  auto k3 = gw_->create_access_key(other);
  ASSERT_TRUE(k1.is_ok() && k2.is_ok() && k3.is_ok());
  auto mine = gw_->list_access_keys(tenant_);
  ASSERT_TRUE(mine.is_ok());
  EXPECT_EQ(mine->size(), 2u);
  auto ids = [](const std::vector<AccessKey>& keys) {
    std::vector<std::string> out;
    for (const auto& k : keys) {
      EXPECT_TRUE(k.secret_key.empty()) << "a listing shows no secret";
      out.push_back(k.access_key_id);
    }
    return out;
  };
  auto listed = ids(*mine);
  EXPECT_NE(std::find(listed.begin(), listed.end(), k1->access_key_id), listed.end());
  EXPECT_EQ(std::find(listed.begin(), listed.end(), k3->access_key_id), listed.end());
  ASSERT_TRUE(gw_->delete_access_key(k1->access_key_id).is_ok());
  EXPECT_EQ(gw_->list_access_keys(tenant_)->size(), 1u);
  EXPECT_EQ(gw_->list_access_keys(9999).code(), ErrorCode::kNotFound);
}

// Users of a tenant: their keys carry the user, go with it, and with the tenant.
TEST_F(MaintenanceTest, UsersAndTheirKeys) {
  EXPECT_EQ(gw_->create_access_key(tenant_, "nobody").code(), ErrorCode::kNotFound) << "a key of no user";
  ASSERT_TRUE(gw_->create_user(tenant_, "alice").is_ok());
  EXPECT_EQ(gw_->create_user(tenant_, "alice").code(), ErrorCode::kExists);
  EXPECT_EQ(gw_->create_user(tenant_, "bad name").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->create_user(9999, "x").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(gw_->create_user(tenant_, "bob@example.com").is_ok());
  auto a1 = gw_->create_access_key(tenant_, "alice");
  auto a2 = gw_->create_access_key(tenant_, "alice");
  auto b1 = gw_->create_access_key(tenant_, "bob@example.com");
  auto root = gw_->create_access_key(tenant_);
  ASSERT_TRUE(a1.is_ok() && a2.is_ok() && b1.is_ok() && root.is_ok());
  reopen();
  auto got = gw_->get_access_key(a1->access_key_id);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->user, "alice");
  EXPECT_EQ(got->secret_key, a1->secret_key);
  EXPECT_EQ(gw_->get_access_key(root->access_key_id)->user, "");
  auto users = gw_->list_users(tenant_);
  ASSERT_TRUE(users.is_ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ(users->at(0).name, "alice");
  EXPECT_GT(users->at(0).created_ns, 0);
  size_t alice_keys = 0;
  auto keys = gw_->list_access_keys(tenant_);
  ASSERT_TRUE(keys.is_ok());
  for (const auto& k : *keys) alice_keys += k.user == "alice";
  EXPECT_EQ(alice_keys, 2u);
  // Deleting a user deletes its keys (a cached one too) and nothing else.
  ASSERT_TRUE(gw_->delete_user(tenant_, "alice").is_ok());
  EXPECT_EQ(gw_->get_access_key(a1->access_key_id).code(), ErrorCode::kNotFound);
  EXPECT_EQ(gw_->get_access_key(a2->access_key_id).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(gw_->get_access_key(b1->access_key_id).is_ok());
  EXPECT_TRUE(gw_->get_access_key(root->access_key_id).is_ok());
  EXPECT_EQ(gw_->delete_user(tenant_, "alice").code(), ErrorCode::kNotFound);
  // A shred takes the users and every key of the tenant's.
  ASSERT_TRUE(gw_->shred_tenant(tenant_).is_ok());
  EXPECT_EQ(gw_->get_access_key(b1->access_key_id).code(), ErrorCode::kNotFound);
  std::string left;
  EXPECT_EQ(gw_->store_for_test()->get(meta::Cf::kTenants, ns::user_key(tenant_, "bob@example.com"), &left).code(),
            ErrorCode::kNotFound);
}

TEST_F(MaintenanceTest, BackupOpensAsADataDirectoryWithEverything) {
  std::map<std::string, std::string> want;
  for (int i = 0; i < 20; ++i) {
    std::string body = kiseki::testing::random_bytes(1000 + i * 20011, 100 + i);
    put("obj/" + std::to_string(i), body);
    want["obj/" + std::to_string(i)] = body;
  }
  put("gone", kiseki::testing::random_bytes(90000, 7));
  ASSERT_TRUE(gw_->delete_object(ns_, "gone").is_ok());
  ASSERT_TRUE(gw_->compact(1.0).is_ok());

  kiseki::testing::TempDir outside;
  std::string dir = outside.path() + "/backup";
  auto r = gw_->backup(dir);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_GT(r->files, 3u);
  EXPECT_TRUE(fs::exists(dir + "/kiseki-backup.json"));
  EXPECT_TRUE(fs::exists(dir + "/keys/master"));
  EXPECT_EQ(gw_->backup(dir).code(), ErrorCode::kExists);
  EXPECT_EQ(gw_->backup("relative/dir").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(gw_->backup(dir_.path() + "/inside").code(), ErrorCode::kInvalidArgument);

  // Writes after the backup are not in it.
  put("later", "after the backup");
  GatewayOptions o = options();
  o.data_dir = dir;
  auto copy = LocalGateway::open(o);
  ASSERT_TRUE(copy.is_ok()) << copy.status().to_string();
  auto t = (*copy)->find_tenant("acme");
  ASSERT_TRUE(t.is_ok());
  auto ns = (*copy)->find_namespace(t->id, "bucket");
  ASSERT_TRUE(ns.is_ok());
  for (const auto& [key, body] : want) {
    auto got = (*copy)->get_object(ns->ref, key, {}, nullptr);
    ASSERT_TRUE(got.is_ok()) << key << ": " << got.status().to_string();
    EXPECT_EQ(std::string(as_string_view(*got)), body) << key;
  }
  EXPECT_EQ((*copy)->head_object(ns->ref, "later").code(), ErrorCode::kNotFound);
  EXPECT_TRUE((*copy)->scrub().problems.empty());
  auto refs = (*copy)->check_references();
  ASSERT_TRUE(refs.is_ok());
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
}

}  // namespace
}  // namespace kiseki::gateway
