// The one permission model, applied by the Gateway on every file operation.
#include "fixture.h"
#include "gateway/permissions.h"

namespace kiseki::gateway {

constexpr InodeId kRoot = ns::kRootInode;

TEST_F(GatewayTest, ModeBitsDecideWhoMayWhat) {
  Caller alice{1000, 1000, {}, {}}, bob{2000, 2000, {}, {}}, carol{3000, 3000, {1000}, {}};
  auto dir = *gw_->mkdir(ns_, kRoot, "home", 0750, alice);
  // bob is neither owner nor in the group: no search, no listing, no create.
  EXPECT_EQ(gw_->lookup(ns_, dir.ino, "x", bob).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(gw_->readdir(ns_, dir.ino, 0, 10, bob).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(gw_->create(ns_, dir.ino, "x", 0644, bob, true).code(), ErrorCode::kPermissionDenied);
  // carol is in the group (r-x): she may list but not create.
  EXPECT_TRUE(gw_->readdir(ns_, dir.ino, 0, 10, carol).is_ok());
  EXPECT_EQ(gw_->mkdir(ns_, dir.ino, "y", 0755, carol).code(), ErrorCode::kPermissionDenied);
  auto f = *gw_->create(ns_, dir.ino, "notes", 0640, alice, true);
  ASSERT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes("secret"), true, alice).is_ok());
  EXPECT_TRUE(gw_->read(ns_, f.ino, 0, 10, carol).is_ok());
  EXPECT_EQ(gw_->write(ns_, f.ino, 0, as_bytes("x"), true, carol).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(gw_->read(ns_, f.ino, 0, 10, bob).code(), ErrorCode::kPermissionDenied);
  // The owner reads and writes through its own read-only mode (NFS convention).
  SetAttrRequest ro;
  ro.mode = 0400;
  ASSERT_TRUE(gw_->setattr(ns_, f.ino, ro, alice).is_ok());
  EXPECT_TRUE(gw_->write(ns_, f.ino, 0, as_bytes("S"), true, alice).is_ok());
  // Root passes everything but execute on a file without x bits.
  EXPECT_TRUE(gw_->read(ns_, f.ino, 0, 10, {}).is_ok());
  EXPECT_FALSE(may(Caller{}, f, kMayExec));
}

TEST_F(GatewayTest, SetattrFollowsTheOwnerRules) {
  Caller alice{1000, 1000, {50}, {}}, bob{2000, 2000, {}, {}};
  auto f = *gw_->create(ns_, kRoot, "f", 0644, alice, true);
  SetAttrRequest chmod;
  chmod.mode = 0600;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, chmod, bob).code(), ErrorCode::kNotPermitted);
  EXPECT_TRUE(gw_->setattr(ns_, f.ino, chmod, alice).is_ok());
  SetAttrRequest chown;
  chown.uid = 2000;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, chown, alice).code(), ErrorCode::kNotPermitted) << "only root gives files away";
  SetAttrRequest chgrp;
  chgrp.gid = 50;
  EXPECT_TRUE(gw_->setattr(ns_, f.ino, chgrp, alice).is_ok()) << "to one of the owner's groups";
  chgrp.gid = 77;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, chgrp, alice).code(), ErrorCode::kNotPermitted);
  SetAttrRequest times;
  times.mtime_ns = 5;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, times, bob).code(), ErrorCode::kPermissionDenied);
  SetAttrRequest trunc;
  trunc.size = 0;
  EXPECT_EQ(gw_->setattr(ns_, f.ino, trunc, bob).code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(gw_->setattr(ns_, f.ino, chown, {}).is_ok());
  EXPECT_EQ(gw_->getattr(ns_, f.ino)->uid, 2000u);
}

TEST_F(GatewayTest, StickyDirectoriesProtectOthersEntries) {
  Caller alice{1000, 1000, {}, {}}, bob{2000, 2000, {}, {}};
  auto tmp = *gw_->mkdir(ns_, kRoot, "tmp", 01777, alice);
  ASSERT_TRUE(gw_->create(ns_, tmp.ino, "a", 0644, alice, true).is_ok());
  ASSERT_TRUE(gw_->create(ns_, tmp.ino, "b", 0644, bob, true).is_ok());
  EXPECT_EQ(gw_->unlink(ns_, tmp.ino, "b", Caller{3000, 3000, {}, {}}).code(), ErrorCode::kNotPermitted);
  EXPECT_EQ(gw_->rename(ns_, tmp.ino, "b", tmp.ino, "c", Caller{3000, 3000, {}, {}}).code(),
            ErrorCode::kNotPermitted);
  EXPECT_TRUE(gw_->unlink(ns_, tmp.ino, "b", bob).is_ok()) << "the entry's owner may";
  ASSERT_TRUE(gw_->create(ns_, tmp.ino, "b", 0644, bob, true).is_ok());
  EXPECT_TRUE(gw_->unlink(ns_, tmp.ino, "b", alice).is_ok()) << "the directory's owner may";
  EXPECT_EQ(gw_->rename(ns_, tmp.ino, "a", tmp.ino, "z", bob).code(), ErrorCode::kNotPermitted);
  EXPECT_TRUE(gw_->rename(ns_, tmp.ino, "a", tmp.ino, "z", alice).is_ok());
}

}  // namespace kiseki::gateway
