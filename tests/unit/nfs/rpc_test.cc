// XDR and ONC RPC codecs: round trips, RFC framing, and hostile input.
#include "protocols/nfs/rpc.h"

#include <gtest/gtest.h>

#include <random>

namespace kiseki::nfs {

TEST(Xdr, RoundTripAndPadding) {
  std::string buf;
  XdrEncoder(&buf).u32(7).i32(-2).u64(0x0102030405060708ull).boolean(true).opaque("abcde").string("").opaque_fixed("xy");
  EXPECT_EQ(buf.size(), 4u + 4 + 8 + 4 + (4 + 8) + 4 + 4);
  XdrDecoder d(buf);
  EXPECT_EQ(d.u32(), 7u);
  EXPECT_EQ(d.i32(), -2);
  EXPECT_EQ(d.u64(), 0x0102030405060708ull);
  EXPECT_TRUE(d.boolean());
  EXPECT_EQ(d.opaque(100), "abcde");
  EXPECT_EQ(d.string(10), "");
  EXPECT_EQ(d.opaque_fixed(2), "xy");
  EXPECT_TRUE(d.ok() && d.done());
}

TEST(Xdr, HostileLengthsFailCleanly) {
  std::string buf;
  XdrEncoder(&buf).u32(0xfffffff0u);  // a huge opaque length with nothing behind it
  XdrDecoder d(buf);
  EXPECT_EQ(d.opaque(1 << 20), "");
  EXPECT_FALSE(d.ok());
  std::string big;
  XdrEncoder(&big).opaque(std::string(300, 'a'));
  XdrDecoder d2(big);
  d2.opaque(255);  // longer than the caller allows
  EXPECT_FALSE(d2.ok());
  std::string b;
  XdrEncoder(&b).u32(2);
  XdrDecoder d3(b);
  d3.boolean();
  EXPECT_FALSE(d3.ok()) << "a boolean is 0 or 1";
  XdrDecoder d4("ab");
  d4.u32();
  EXPECT_FALSE(d4.ok());
}

static std::string call(uint32_t xid, uint32_t rpcvers, uint32_t flavor, std::string cred, std::string args = "") {
  std::string m;
  XdrEncoder e(&m);
  e.u32(xid).u32(0).u32(rpcvers).u32(100003).u32(3).u32(6).u32(flavor).opaque(cred).u32(0).opaque("");
  m += args;
  return m;
}

TEST(Rpc, ParsesAuthSysCalls) {
  std::string cred;
  XdrEncoder(&cred).u32(42).string("client").u32(1000).u32(100).u32(2).u32(4).u32(27);
  auto p = parse_call(call(9, 2, 1, cred, std::string("\0\0\0\1", 4)));
  ASSERT_EQ(p.error, CallError::kNone);
  EXPECT_EQ(p.header.xid, 9u);
  EXPECT_EQ(p.header.prog, 100003u);
  EXPECT_EQ(p.header.vers, 3u);
  EXPECT_EQ(p.header.proc, 6u);
  ASSERT_TRUE(p.header.sys.has_value());
  EXPECT_EQ(p.header.sys->uid, 1000u);
  EXPECT_EQ(p.header.sys->machine, "client");
  EXPECT_EQ(p.header.sys->gids, (std::vector<uint32_t>{4, 27}));
  EXPECT_EQ(p.args.size(), 4u);
  EXPECT_EQ(parse_call(call(1, 2, 0, "")).error, CallError::kNone);
}

TEST(Rpc, BadCallsGetTheRfcAnswers) {
  EXPECT_EQ(parse_call("abc").error, CallError::kGarbage);
  EXPECT_EQ(parse_call(call(1, 3, 0, "")).error, CallError::kRpcMismatch);
  EXPECT_EQ(parse_call(call(1, 2, 6, "")).error, CallError::kUnsupportedAuth);  // RPCSEC_GSS
  std::string many;
  XdrEncoder(&many).u32(0).string("h").u32(0).u32(0).u32(17);
  for (int i = 0; i < 17; ++i) XdrEncoder(&many).u32(i);
  EXPECT_EQ(parse_call(call(1, 2, 1, many)).error, CallError::kBadCred) << "more than 16 groups";
  EXPECT_EQ(parse_call(call(1, 2, 1, "xx")).error, CallError::kBadCred);
  std::string reply;
  XdrEncoder(&reply).u32(5).u32(1);
  EXPECT_EQ(parse_call(reply).error, CallError::kNotCall);
  // Random garbage never crashes the parser.
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string g(rng() % 200, '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    (void)parse_call(g);
  }
}

TEST(Rpc, Replies) {
  std::string r = accepted_reply(77, AcceptStat::kProgMismatch, 3, 3);
  XdrDecoder d(r);
  EXPECT_EQ(d.u32(), 77u);
  EXPECT_EQ(d.u32(), 1u);  // REPLY
  EXPECT_EQ(d.u32(), 0u);  // MSG_ACCEPTED
  EXPECT_EQ(d.u32(), 0u);  // verifier flavor
  EXPECT_EQ(d.opaque(400), "");
  EXPECT_EQ(d.u32(), 2u);  // PROG_MISMATCH
  EXPECT_EQ(d.u32(), 3u);
  EXPECT_EQ(d.u32(), 3u);
  EXPECT_TRUE(d.done());
  std::string mismatch = rpc_mismatch_reply(5);
  XdrDecoder m(mismatch);
  m.u32();
  m.u32();
  EXPECT_EQ(m.u32(), 1u);  // MSG_DENIED
  EXPECT_EQ(m.u32(), 0u);  // RPC_MISMATCH
  std::string denied = auth_error_reply(5, AuthStat::kTooWeak);
  XdrDecoder a(denied);
  a.u32();
  a.u32();
  a.u32();
  EXPECT_EQ(a.u32(), 1u);  // AUTH_ERROR
  EXPECT_EQ(a.u32(), 5u);
}

TEST(Rpc, RecordMarking) {
  RecordReader r;
  std::string two = frame_record("hello") + frame_record("world!");
  // Delivered a byte at a time, then all at once: the same two records.
  for (char c : two) ASSERT_TRUE(r.feed(std::string_view(&c, 1)).is_ok());
  EXPECT_EQ(*r.next(), "hello");
  EXPECT_EQ(*r.next(), "world!");
  EXPECT_FALSE(r.next().has_value());
  // A record in three fragments.
  std::string frags;
  XdrEncoder(&frags).u32(3);
  frags += "abc";
  XdrEncoder(&frags).u32(2);
  frags += "de";
  XdrEncoder(&frags).u32(0x80000001u);
  frags += "f";
  ASSERT_TRUE(r.feed(frags).is_ok());
  EXPECT_EQ(*r.next(), "abcdef");
  // A fragment length past the cap is refused at once.
  RecordReader small(1024);
  std::string huge;
  XdrEncoder(&huge).u32(0x80000000u | 0x7fffffffu);
  EXPECT_EQ(small.feed(huge).code(), ErrorCode::kInvalidArgument);
}

}  // namespace kiseki::nfs
