// A Gateway on a fresh data directory with one tenant and one namespace.
#pragma once

#include <gtest/gtest.h>

#include "gateway/local_gateway.h"
#include "support/temp_dir.h"

namespace kiseki::gateway {

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reopen();
    tenant_ = *gw_->create_tenant("acme");
    ns_ = *gw_->create_namespace(tenant_, "bucket");
    // The namespace root belongs to the tests' caller, as a user's home would.
    SetAttrRequest own;
    own.uid = who_.uid;
    own.gid = who_.gid;
    ASSERT_TRUE(gw_->setattr(ns_, ns::kRootInode, own).is_ok());
  }
  virtual GatewayOptions options() {
    GatewayOptions o;
    o.data_dir = dir_.path();
    o.segment_bytes = 8 << 20;
    return o;
  }
  void reopen() {
    gw_.reset();
    auto g = LocalGateway::open(options());
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    gw_ = std::move(*g);
  }
  ObjectInfo put(const std::string& key, const std::string& data, NsRef ns = {}) {
    if (ns.ns == 0) ns = ns_;
    auto r = gw_->put_object(ns, key, source_from(as_bytes(data)), {});
    EXPECT_TRUE(r.is_ok()) << key << ": " << r.status().to_string();
    return r.is_ok() ? *r : ObjectInfo{};
  }
  std::string get(const std::string& key, NsRef ns = {}) {
    if (ns.ns == 0) ns = ns_;
    auto r = gw_->get_object(ns, key, {}, nullptr);
    EXPECT_TRUE(r.is_ok()) << key << ": " << r.status().to_string();
    return r.is_ok() ? std::string(as_string_view(*r)) : std::string();
  }
  std::string read_file(InodeId ino, uint64_t off = 0, uint64_t len = 1ull << 30) {
    auto r = gw_->read(ns_, ino, off, len);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::string(as_string_view(*r)) : std::string();
  }
  uint64_t segment_bytes() {
    uint64_t total = 0;
    for (auto id : gw_->chunks_for_test()->segments()->segments()) total += gw_->chunks_for_test()->segments()->segment_size(id);
    return total;
  }

  kiseki::testing::TempDir dir_;
  std::unique_ptr<LocalGateway> gw_;
  TenantId tenant_ = 0;
  NsRef ns_;
  Caller who_{1000, 1000};
};

}  // namespace kiseki::gateway
