// Crypto-shred against someone who holds the disk: after a shred and the purge
// that follows, the data directory (every file in it, the master key included)
// opens none of the shredded tenant's chunks and holds neither its key nor its
// names, while the other tenants' chunks, shared-domain ones included, open.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chunk/segment.h"
#include "crypto/chunk_cipher.h"
#include "crypto/key_manager.h"
#include "fixture.h"
#include "log/delta_log.h"
#include "namespace/state_machine.h"

namespace kiseki::gateway {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `dir` that contains `needle`.
std::vector<std::string> files_containing(const std::string& dir, std::string_view needle) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && slurp(e.path()).find(needle) != std::string::npos) hits.push_back(e.path());
  return hits;
}

std::string str(ByteSpan b) { return std::string(as_string_view(b)); }

class ShredTest : public GatewayTest {};

TEST_F(ShredTest, DataDirectoryAloneOpensNothingOfAShreddedTenant) {
  // acme (set up by the fixture): a domain of its own, shredded.
  // beta: shared domain, shredded. gamma: shared domain, alive. delta: own domain, alive.
  TenantId beta = *gw_->create_tenant("beta", true);
  TenantId gamma = *gw_->create_tenant("gamma", true);
  TenantId delta = *gw_->create_tenant("delta");
  NsRef bns = *gw_->create_namespace(beta, "bb");
  NsRef gns = *gw_->create_namespace(gamma, "gb");
  NsRef dns = *gw_->create_namespace(delta, "db");
  std::string shared = kiseki::testing::random_bytes(300000, 11);
  for (int i = 0; i < 3; ++i) put("acme-secret-name-" + std::to_string(i), kiseki::testing::random_bytes(200000, 20 + i));
  put("acme-small-name", "inline acme data");
  put("beta-shared-name", shared, bns);
  put("beta-own-name", kiseki::testing::random_bytes(150000, 30), bns);
  put("gamma-shared-name", shared, gns);
  put("delta-visible-name", kiseki::testing::random_bytes(150000, 31), dns);
  ASSERT_TRUE(gw_->put_export("/acme/bucket", "rw").is_ok());
  ASSERT_TRUE(gw_->put_export("/delta/db", "rw").is_ok());
  ASSERT_TRUE(gw_->put_namespace_config(ns_, "tagging", "project=acme-config-tag").is_ok());

  // What an attacker would look for: acme's KEK, its wrapped form and the keys
  // derived from it.
  auto keys = *crypto::FileKeyManager::open(dir_.path() + "/keys");
  crypto::SecretKey kek = *keys->tenant_kek(tenant_);
  crypto::DomainKeys acme_keys = crypto::derive_domain_keys(tenant_, kek);
  std::string wrapped;
  ASSERT_TRUE(gw_->store_for_test()->get(meta::Cf::kTenants, ns::tenant_kek_key(tenant_), &wrapped).is_ok());
  keys.reset();
  ASSERT_FALSE(files_containing(dir_.path(), wrapped).empty()) << "the search must see the wrapped key before";
  ASSERT_TRUE(gw_->store_for_test()->flush().is_ok());
  ASSERT_FALSE(files_containing(dir_.path() + "/meta", "acme-secret-name-1").empty());
  // An opened object (its layout; an inline object's bytes) is kept for reads.
  ASSERT_TRUE(gw_->open_object(ns_, "acme-small-name").is_ok());
  ASSERT_GT(gw_->opened_objects_for_test().entries(), 0u);
  // And a listing with attributes (names) is kept.
  ASSERT_TRUE(gw_->readdir_plus(ns_, ns::kRootInode, 0, 100).is_ok());
  ASSERT_GT(gw_->listings_for_test().entries(), 0u);

  ASSERT_TRUE(gw_->shred_tenant(tenant_).is_ok());
  EXPECT_EQ(gw_->opened_objects_for_test().entries(), 0u) << "an opened object outlived the shred";
  EXPECT_EQ(gw_->listings_for_test().entries(), 0u) << "a listing outlived the shred";
  EXPECT_EQ(gw_->cached_inodes_for_test(), 0u) << "an inode outlived the shred";
  EXPECT_FALSE(gw_->open_object(ns_, "acme-small-name").is_ok());
  ASSERT_TRUE(gw_->shred_tenant(beta).is_ok());
  // Off every protocol at once, before the purge has run.
  EXPECT_EQ(gw_->find_namespace(tenant_, "bucket").code(), ErrorCode::kNotFound);
  EXPECT_TRUE(gw_->list_namespaces(beta).empty());
  EXPECT_EQ(gw_->lookup(ns_, ns::kRootInode, "acme-small-name").code(), ErrorCode::kCryptoShredded);
  EXPECT_EQ(gw_->readdir(ns_, ns::kRootInode, 0, 100).code(), ErrorCode::kCryptoShredded);
  auto exports = *gw_->list_exports();
  ASSERT_EQ(exports.size(), 1u);
  EXPECT_EQ(exports[0].first, "/delta/db");

  ASSERT_TRUE(gw_->purge_shredded().is_ok());
  // The shared chunk beta held stays readable for gamma; nothing is miscounted.
  EXPECT_EQ(get("gamma-shared-name", gns), shared);
  auto refs = gw_->check_references();
  ASSERT_TRUE(refs.is_ok());
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  EXPECT_TRUE(gw_->scrub().problems.empty());
  gw_.reset();

  // ---- offline, with the whole data directory
  for (const std::string& secret : {wrapped, str(kek.span()), str(acme_keys.seal.span()), str(acme_keys.dedup.span())})
    EXPECT_TRUE(files_containing(dir_.path(), secret).empty()) << "key material of the shredded tenant is left";
  for (const char* name : {"acme-secret-name-0", "acme-secret-name-1", "acme-small-name", "beta-own-name",
                           "beta-shared-name", "inline acme data", "/acme/bucket", "acme-config-tag"})
    EXPECT_EQ(files_containing(dir_.path(), name), std::vector<std::string>{}) << name;
  EXPECT_FALSE(files_containing(dir_.path() + "/meta", "delta-visible-name").empty())
      << "the search must see a live tenant's names";

  // Every root key the directory yields: the master key file, the tenant key
  // files, and every wrapped key in the metadata store (tenant KEKs, the shared
  // domain's key) unwrapped under each name the store holds.
  auto km = *crypto::FileKeyManager::open(dir_.path() + "/keys");
  auto store = *meta::Store::open(dir_.path() + "/meta");
  std::vector<std::string> names = {"shared-domain"};
  std::vector<std::string> values;
  for (size_t c = 0; c < static_cast<size_t>(meta::Cf::kCount); ++c) {
    auto it = store->iterator(static_cast<meta::Cf>(c));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      values.push_back(it->value().ToString());
      if (static_cast<meta::Cf>(c) == meta::Cf::kTenants && it->key().starts_with("N"))
        names.push_back(it->key().ToString().substr(1));
    }
  }
  std::vector<crypto::SecretKey> roots;
  for (const auto& v : values)
    for (const auto& n : names)
      if (auto k = km->unwrap_key(n, v)) roots.push_back(*k);
  for (TenantId t : {tenant_, beta, gamma, delta})
    if (auto k = km->tenant_kek(t)) roots.push_back(*k);
  ASSERT_GE(roots.size(), 2u) << "the shared domain's key and delta's KEK are there to find";

  crypto::ChunkCipher cipher(km.get());
  std::map<DomainId, std::pair<size_t, size_t>> opened;  // domain → (records, opened)
  for (const auto& e : fs::directory_iterator(dir_.path() + "/chunks")) {
    SegmentId seg;
    if (!chunk::parse_segment_file_name(e.path().filename().string(), &seg)) continue;
    std::string file = slurp(e.path());
    int fd = ::open(e.path().c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(chunk::scan_segment(fd, seg, file.size(), [&](const chunk::ScannedRecord& r) {
                  ByteSpan sealed = as_bytes(file).subspan(r.loc.offset + chunk::kRecordHeaderSize, r.loc.length);
                  Bytes out(sealed.size() - crypto::kSealOverhead);
                  auto& [records, ok] = opened[domain_of(r.id)];
                  ++records;
                  for (const auto& root : roots)
                    if (cipher.open(crypto::derive_domain_keys(domain_of(r.id), root), r.id, sealed, out.data()).is_ok()) {
                      ++ok;
                      break;
                    }
                }).is_ok());
    ::close(fd);
  }
  EXPECT_GE(opened[tenant_].first, 3u) << "the shredded tenant's records are still on disk (not compacted)";
  EXPECT_EQ(opened[tenant_].second, 0u) << "a chunk of the shredded tenant was decrypted";
  EXPECT_GE(opened[delta].first, 1u);
  EXPECT_EQ(opened[delta].second, opened[delta].first) << "the attacker above opens a live tenant's chunks";
  EXPECT_GE(opened[kSharedDomain].first, 2u);
  EXPECT_EQ(opened[kSharedDomain].second, opened[kSharedDomain].first) << "shared-domain chunks stay readable";
}

// The purge drops a shredded shared-domain tenant's references and collects the
// shared chunks it alone held; one it shared stays.
TEST_F(ShredTest, PurgeReleasesSharedDomainReferences) {
  TenantId a = *gw_->create_tenant("sa", true), b = *gw_->create_tenant("sb", true);
  NsRef ans = *gw_->create_namespace(a, "x"), bns = *gw_->create_namespace(b, "y");
  std::string both = kiseki::testing::random_bytes(100000, 41), mine = kiseki::testing::random_bytes(100000, 42);
  put("both", both, ans);
  put("mine", mine, ans);
  put("both", both, bns);
  auto count_located = [&] {
    EXPECT_TRUE(gw_->chunks_for_test()->flush_local().is_ok());
    size_t n = 0;
    auto it = gw_->store_for_test()->iterator(meta::Cf::kChunkLocs);
    for (it->SeekToFirst(); it->Valid(); it->Next()) n += it->key().size() == 32 && it->key()[7] == 0;
    return n;
  };
  size_t before = count_located();
  ASSERT_TRUE(gw_->shred_tenant(a).is_ok());
  ASSERT_TRUE(gw_->purge_shredded().is_ok());
  EXPECT_LT(count_located(), before) << "the chunk only the shredded tenant held is collected";
  EXPECT_GT(count_located(), 0u);
  EXPECT_EQ(get("both", bns), both);
  auto refs = gw_->check_references();
  ASSERT_TRUE(refs.is_ok());
  EXPECT_TRUE(refs->problems.empty()) << refs->problems.front();
  reopen();
  EXPECT_EQ(get("both", bns), both);
}

// Apply refuses to purge a tenant that is not shredded, whoever submits it.
TEST_F(ShredTest, ApplyRefusesToPurgeALiveTenant) {
  put("live-object", kiseki::testing::random_bytes(100000, 51));
  gw_.reset();
  auto store = *meta::Store::open(dir_.path() + "/meta");
  // Everything but the system column family (where the log counts records).
  auto state = [&] {
    std::string out, line;
    std::istringstream in(store->dump_replicated());
    while (std::getline(in, line))
      if (!line.starts_with("system ")) out += line + "\n";
    return out;
  };
  std::string before = state();
  ASSERT_NE(before.find("chunk_refs"), std::string::npos);
  ns::StateMachine sm;
  log::DeltaLog log(store.get(), &sm, log::LogOptions{Durability::kNone});
  ns::Delta d;
  d.op = ns::Op::kPurgeTenant;
  d.a = tenant_;
  d.version = 1000;
  d.flags = ns::kPurgeDomain;
  EXPECT_EQ(log.submit(ns::encode_record({d})).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(state() == before) << "a refused purge deleted something";
}

}  // namespace
}  // namespace kiseki::gateway
