// The NFS server's parts without sockets: export options, file handles, the
// duplicate request cache and the RPC dispatcher's replies.
#include <gtest/gtest.h>

#include <cstring>

#include "common/bytes.h"
#include "crypto/primitives.h"
#include "protocols/nfs/drc.h"
#include "protocols/nfs/exports.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/rpc_dispatcher.h"

namespace kiseki::nfs {

TEST(Exports, CidrAndOptions) {
  auto c = parse_cidr("10.1.0.0/16");
  ASSERT_TRUE(c.is_ok());
  EXPECT_TRUE(c->contains(0x0a01ff01));
  EXPECT_FALSE(c->contains(0x0a02ff01));
  EXPECT_TRUE(parse_cidr("*")->contains(0x7f000001));
  EXPECT_TRUE(parse_cidr("127.0.0.1")->contains(0x7f000001));
  EXPECT_FALSE(parse_cidr("127.0.0.1")->contains(0x7f000002));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33").is_ok());
  EXPECT_FALSE(parse_cidr("host.example").is_ok());

  auto o = parse_export_options("ro, no_root_squash,anonuid=7,anongid=8,clients=10.0.0.0/8|192.168.1.5");
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_TRUE(o->read_only);
  EXPECT_FALSE(o->root_squash);
  EXPECT_EQ(o->anon_uid, 7u);
  EXPECT_TRUE(o->allows(0x0a000001));
  EXPECT_TRUE(o->allows(0xc0a80105));
  EXPECT_FALSE(o->allows(0xc0a80106));
  auto again = parse_export_options(o->to_string());  // what the store keeps reads back the same
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->to_string(), o->to_string());
  EXPECT_TRUE(parse_export_options("")->root_squash) << "root squash is the default";
  EXPECT_TRUE(parse_export_options("")->allows(0x01020304));
  EXPECT_FALSE(parse_export_options("rw,bogus").is_ok());
  EXPECT_FALSE(parse_export_options("anonuid=x").is_ok());
  EXPECT_FALSE(parse_export_options("clients=").is_ok());
}

TEST(FileHandle, RoundTripAndForgery) {
  std::array<uint8_t, 32> key{};
  key[0] = 1;
  HandleCodec codec(key);
  FileHandle h{3, 44, 5555, 0x0102030405060708ull};
  std::string fh = codec.encode(h);
  ASSERT_LE(fh.size(), HandleCodec::kMaxSize);
  ASSERT_LE(HandleCodec::kMaxSize, 64u);
  auto d = codec.decode(fh);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->tenant, 3u);
  EXPECT_EQ(d->ns, 44u);
  EXPECT_EQ(d->ino, 5555u);
  EXPECT_EQ(d->generation, h.generation);
  // Counters make short handles; every field's whole range round-trips.
  EXPECT_EQ(codec.encode(FileHandle{1, 2, 3000, 4000}).size(), 1u + 1 + 1 + 2 + 2 + 8);
  EXPECT_EQ(codec.encode(FileHandle{1, 2, 3, 4}).size(), HandleCodec::kMinSize);
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 1ull << 62 | 5, ~0ull}) {
    FileHandle x{v, v ^ 1, v, ~v};
    auto y = codec.decode(codec.encode(x));
    ASSERT_TRUE(y.has_value()) << v;
    EXPECT_EQ(y->tenant, x.tenant);
    EXPECT_EQ(y->ns, x.ns);
    EXPECT_EQ(y->ino, x.ino);
    EXPECT_EQ(y->generation, x.generation);
    EXPECT_LE(codec.encode(x).size(), HandleCodec::kMaxSize);
  }
  for (size_t i = 0; i < fh.size(); ++i) {  // any changed bit is refused
    std::string f = fh;
    f[i] ^= 0x10;
    EXPECT_FALSE(codec.decode(f).has_value()) << "byte " << i;
  }
  EXPECT_FALSE(codec.decode(fh.substr(1)).has_value());
  EXPECT_FALSE(codec.decode(fh + "x").has_value());
  key[0] = 2;
  EXPECT_FALSE(HandleCodec(key).decode(fh).has_value()) << "another server's handles are not ours";
}

// Handles of the first format (44 bytes: version 1, 3 zero bytes, the four
// fields as 64-bit numbers, 8 bytes of HMAC-SHA256 over the first 36) stay valid after an
// upgrade; they are built here by hand, as the earlier server built them.
TEST(FileHandle, FirstFormatStillDecodes) {
  std::array<uint8_t, 32> key{};
  key[0] = 7;
  HandleCodec codec(key);
  uint8_t p[44] = {1, 0, 0, 0};
  put_be64(p + 4, 9);
  put_be64(p + 12, 8);
  put_be64(p + 20, 777);
  put_be64(p + 28, 31);
  crypto::HmacSha256 mac(ByteSpan(key.data(), key.size()));
  auto m = mac.mac(ByteSpan(p, 36));
  std::memcpy(p + 36, m.data(), 8);
  std::string old(reinterpret_cast<const char*>(p), sizeof(p));
  auto d = codec.decode(old);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->tenant, 9u);
  EXPECT_EQ(d->ns, 8u);
  EXPECT_EQ(d->ino, 777u);
  EXPECT_EQ(d->generation, 31u);
  for (size_t i = 0; i < old.size(); ++i) {
    std::string f = old;
    f[i] ^= 0x01;
    EXPECT_FALSE(codec.decode(f).has_value()) << "byte " << i;
  }
  // A second-format handle of the same file is another byte string, same file.
  auto e = codec.decode(codec.encode(*d));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->ino, 777u);
  // Non-canonical varints (a padded zero byte) are refused even with a valid MAC.
  // Tenant 9 as 0x89 0x00 (two bytes for a one-byte value); 777 is 0x89 0x06.
  uint8_t body[7] = {2, 0x89, 0x00, 8, 0x89, 0x06, 31};
  auto m2 = mac.mac(ByteSpan(body, sizeof(body)));
  std::string padded(reinterpret_cast<const char*>(body), sizeof(body));
  padded.append(reinterpret_cast<const char*>(m2.data()), 8);
  EXPECT_FALSE(codec.decode(padded).has_value());
}

TEST(Drc, NewInProgressReplayAndEviction) {
  DuplicateRequestCache drc(4);
  DrcKey k{1, 700, 100, 100003, 3, 8, 0xabc, 12};
  std::string reply;
  EXPECT_EQ(drc.begin(k, &reply), DuplicateRequestCache::State::kNew);
  EXPECT_EQ(drc.begin(k, &reply), DuplicateRequestCache::State::kInProgress);
  drc.finish(k, "R1");
  EXPECT_EQ(drc.begin(k, &reply), DuplicateRequestCache::State::kReplay);
  EXPECT_EQ(reply, "R1");
  DrcKey other = k;
  other.args_crc = 0xdef;  // a reused xid with other arguments is a new call
  EXPECT_EQ(drc.begin(other, &reply), DuplicateRequestCache::State::kNew);
  drc.finish(other, "R2");
  for (uint32_t x = 0; x < 8; ++x) {
    DrcKey n = k;
    n.xid = 1000 + x;
    ASSERT_EQ(drc.begin(n, &reply), DuplicateRequestCache::State::kNew);
    drc.finish(n, "x");
  }
  EXPECT_EQ(drc.begin(k, &reply), DuplicateRequestCache::State::kNew) << "the oldest entries went first";
}

namespace {

class EchoProgram : public RpcProgram {
 public:
  uint32_t program() const override { return 400000; }
  uint32_t min_version() const override { return 1; }
  uint32_t max_version() const override { return 2; }
  bool idempotent(uint32_t proc) const override { return proc != 2; }
  AcceptStat call(const RpcCall& c, std::string* out) override {
    ++calls;
    if (c.hdr.proc == 9) return AcceptStat::kProcUnavail;
    XdrEncoder(out).u32(calls).opaque(c.args);
    return AcceptStat::kSuccess;
  }
  uint32_t calls = 0;
};

std::string call(uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc, std::string_view args = "") {
  std::string m;
  XdrEncoder e(&m);
  e.u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc);
  std::string sys;
  XdrEncoder(&sys).u32(0).string("h").u32(0).u32(0).u32(0);
  e.u32(1).opaque(sys).u32(0).u32(0);
  m.append(args);
  return m;
}

// Reply fields after the record mark: xid, REPLY, reply_stat, (verifier), accept_stat.
uint32_t accept_stat(const std::string& framed) {
  XdrDecoder d(std::string_view(framed).substr(4));
  d.u32();
  d.u32();
  EXPECT_EQ(d.u32(), 0u);
  d.u32();
  d.opaque(400);
  return d.u32();
}

}  // namespace

TEST(Dispatcher, RepliesAsRfc5531Says) {
  EchoProgram p;
  RpcDispatcher d;
  d.add(&p);
  ClientInfo client{0x7f000001, 1000, "127.0.0.1"};
  auto r = d.handle(call(1, 400000, 1, 1, "ABCD"), client);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(get_be32(reinterpret_cast<const uint8_t*>(r->data())), 0x80000000u | (r->size() - 4));
  EXPECT_EQ(accept_stat(*r), 0u);
  EXPECT_EQ(accept_stat(*d.handle(call(2, 1, 1, 1), client)), 1u);       // PROG_UNAVAIL
  EXPECT_EQ(accept_stat(*d.handle(call(3, 400000, 3, 1), client)), 2u);  // PROG_MISMATCH
  EXPECT_EQ(accept_stat(*d.handle(call(4, 400000, 1, 9), client)), 3u);  // PROC_UNAVAIL
  EXPECT_FALSE(d.handle("ab", client).has_value()) << "no xid: nothing to answer";

  // proc 2 is not idempotent: a resend gets the first reply, not a second run
  uint32_t before = p.calls;
  auto first = d.handle(call(10, 400000, 1, 2, "WXYZ"), client);
  auto again = d.handle(call(10, 400000, 1, 2, "WXYZ"), client);
  EXPECT_EQ(*first, *again);
  EXPECT_EQ(p.calls, before + 1);
  d.handle(call(10, 400000, 1, 2, "WXYZ"), ClientInfo{0x7f000002, 1000, "127.0.0.2"});
  EXPECT_EQ(p.calls, before + 2) << "the cache is per client";
  d.handle(call(10, 400000, 1, 2, "WXYZ"), ClientInfo{0x7f000001, 1001, "127.0.0.1"});
  EXPECT_EQ(p.calls, before + 3) << "another port of one host is another client (its own xids)";
  d.handle(call(11, 400000, 1, 1), client);
  d.handle(call(11, 400000, 1, 1), client);
  EXPECT_EQ(p.calls, before + 5) << "idempotent calls run every time";
}

}  // namespace kiseki::nfs
