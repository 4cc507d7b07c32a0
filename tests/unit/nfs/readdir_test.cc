// READDIRPLUS through the NFSv3 service on a real Gateway, without sockets:
// a name whose inode cannot be read (a damaged store) is gone past, neither
// looped on nor taken for the end.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <set>

#include "gateway/local_gateway.h"
#include "meta/schema.h"
#include "protocols/nfs/exports.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/nfs3.h"
#include "protocols/nfs/nfs3_const.h"
#include "protocols/nfs/xdr.h"
#include "support/temp_dir.h"

namespace kiseki::nfs {
namespace {

TEST(Readdirplus, ANameWithoutItsInodeIsGonePast) {
  kiseki::testing::TempDir dir;
  gateway::GatewayOptions o;
  o.data_dir = dir.path();
  auto gw = std::move(*gateway::LocalGateway::open(o));
  TenantId tenant = *gw->create_tenant("acme");
  gateway::NsRef ns = *gw->create_namespace(tenant, "bucket");
  std::vector<InodeId> inos;
  for (const char* name : {"a", "b", "c", "d"}) {
    auto f = gw->create(ns, ns::kRootInode, name, 0644, {}, true);
    ASSERT_TRUE(f.is_ok());
    inos.push_back(f->ino);
  }
  // "b" and the last entry, "d", lose their inodes underneath the namespace.
  rocksdb::WriteBatch damage;
  for (InodeId ino : {inos[1], inos[3]}) damage.Delete(gw->store_for_test()->cf(meta::Cf::kInodes), meta::inode_key(ns.ns, ino));
  ASSERT_TRUE(gw->store_for_test()->write(&damage, true).is_ok());

  // The Gateway reads on past them: fewer entries than asked for is the end.
  auto two = gw->readdir_plus(ns, ns::kRootInode, 0, 2);
  ASSERT_TRUE(two.is_ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].entry.name, "a");
  EXPECT_EQ((*two)[1].entry.name, "c");

  ExportOptions defaults;
  defaults.root_squash = false;
  ExportTable exports(gw.get(), true, defaults);
  ASSERT_TRUE(exports.load("").is_ok());
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  HandleCodec handles(key);
  Nfs3Service nfs(gw.get(), &exports, &handles, {});
  auto root = gw->getattr(ns, ns::kRootInode);
  ASSERT_TRUE(root.is_ok());
  std::string root_fh = handles.encode(FileHandle{tenant, ns.ns, ns::kRootInode, root->generation});

  // Every entry the listing returns, by READDIRPLUS calls of 8 KiB as libnfs makes.
  auto list = [&] {
    std::set<std::string> names;
    uint64_t cookie = 0;
    std::string verf(8, '\0');
    for (int calls = 0; calls < 100; ++calls) {
      std::string args;
      XdrEncoder a(&args);
      a.opaque(root_fh).u64(cookie).opaque_fixed(verf).u32(8192).u32(8192);
      CallHeader hdr;
      hdr.prog = kProgNfs;
      hdr.vers = 3;
      hdr.proc = kNfs3Readdirplus;
      hdr.flavor = AuthFlavor::kSys;
      hdr.sys = AuthSys{};
      net::Peer peer;
      peer.ip = 0x7f000001;
      std::string out;
      if (nfs.call(RpcCall{hdr, args, peer}, &out) != AcceptStat::kSuccess) break;
      XdrDecoder r(out);
      if (r.u32() != kNfs3Ok) break;
      if (r.boolean()) (void)r.opaque_fixed(84);  // the directory's attributes
      verf = std::string(r.opaque_fixed(8));
      while (r.boolean()) {
        (void)r.u64();
        names.insert(std::string(r.string(255)));
        cookie = r.u64();
        if (r.boolean()) (void)r.opaque_fixed(84);
        if (r.boolean()) (void)r.opaque(64);
      }
      if (!r.ok()) break;
      if (r.boolean()) return names;  // eof
    }
    names.insert("(no end)");
    return names;
  };
  // A listing that loops never returns: the test fails at once instead of hanging.
  auto listed = std::async(std::launch::async, list);
  if (listed.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::fprintf(stderr, "READDIRPLUS did not return: it loops on a name without its inode\n");
    std::_Exit(1);
  }
  EXPECT_EQ(listed.get(), (std::set<std::string>{".", "..", "a", "c"}));
}

}  // namespace
}  // namespace kiseki::nfs
