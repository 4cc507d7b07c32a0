// A real native server on a loopback port over a LocalGateway, driven by
// libkiseki and by raw sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "client/client.h"
#include "gateway/local_gateway.h"
#include "net/frame.h"
#include "protocols/native/native_server.h"
#include "protocols/native/native_service.h"
#include "support/temp_dir.h"

namespace kiseki::native {

namespace {

using client::Client;
using client::ClientOptions;

class NativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway::GatewayOptions o;
    o.data_dir = dir_.path();
    gw_ = std::move(*gateway::LocalGateway::open(o));
    tenant_ = *gw_->create_tenant("acme");
    auto files = gw_->create_namespace(tenant_, "files");
    ASSERT_TRUE(files.is_ok());
    gateway::SetAttrRequest own;  // the root belongs to the tests' user, as a home would
    own.uid = 1000;
    own.gid = 1000;
    ASSERT_TRUE(gw_->setattr(*files, ns::kRootInode, own).is_ok());
    key_ = *gw_->create_access_key(tenant_);
    other_ = *gw_->create_tenant("other");
    ASSERT_TRUE(gw_->create_namespace(other_, "secret").is_ok());
    NativeServerOptions so;
    so.listen = "127.0.0.1:0";
    server_ = std::move(*NativeServer::start(gw_.get(), so));
  }
  void TearDown() override {
    server_.reset();
    gw_.reset();
  }
  ClientOptions options() const {
    ClientOptions o;
    o.endpoint = "127.0.0.1:" + std::to_string(server_->port());
    o.access_key = key_.access_key_id;
    o.secret_key = key_.secret_key;
    o.retry_for = std::chrono::milliseconds(2000);
    return o;
  }
  std::unique_ptr<Client> connect() {
    auto c = Client::connect(options());
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? std::move(*c) : nullptr;
  }
  // A raw socket to the native port.
  int dial() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

  kiseki::testing::TempDir dir_;
  std::unique_ptr<gateway::LocalGateway> gw_;
  std::unique_ptr<NativeServer> server_;
  TenantId tenant_ = 0, other_ = 0;
  gateway::AccessKey key_;
};

}  // namespace

TEST_F(NativeTest, AWrongSecretIsRefusedAndTheSecretNeverCrossesTheWire) {
  ClientOptions o = options();
  o.secret_key = "not-the-secret";
  auto c = Client::connect(o);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kPermissionDenied);
  o = options();
  o.access_key = "AKNOSUCHKEY";
  EXPECT_EQ(Client::connect(o).status().code(), ErrorCode::kPermissionDenied);
  // A user's key is for S3 (bucket policies give it its rights), never a mount of the tenant.
  ASSERT_TRUE(gw_->create_user(tenant_, "alice").is_ok());
  auto user_key = gw_->create_access_key(tenant_, "alice");
  ASSERT_TRUE(user_key.is_ok());
  o = options();
  o.access_key = user_key->access_key_id;
  o.secret_key = user_key->secret_key;
  EXPECT_EQ(Client::connect(o).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(connect(), nullptr);
}

TEST_F(NativeTest, NothingIsAnsweredBeforeAuthenticationAndOnlyTheTenantsNamespaces) {
  auto conn = *net::Connection::open(options().endpoint, std::chrono::milliseconds(2000));
  std::string args;
  Encoder(&args).str("files");
  EXPECT_EQ(conn->call(static_cast<uint16_t>(Op::kMount), args, std::chrono::milliseconds(2000)).status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(conn->call(static_cast<uint16_t>(Op::kPing), "", std::chrono::milliseconds(2000)).is_ok());

  auto c = connect();
  EXPECT_EQ(c->mount("secret").status().code(), ErrorCode::kNotFound) << "another tenant's namespace";
  // A second namespace mounted later is known to every connection of the pool.
  ASSERT_TRUE(gw_->create_namespace(tenant_, "more").is_ok());
  auto first = *c->mount("files");
  auto second = *c->mount("more");
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(c->getattr(first.ns, ns::kRootInode).is_ok()) << i;
    EXPECT_TRUE(c->getattr(second.ns, ns::kRootInode).is_ok()) << i;
  }
  auto theirs = *gw_->find_namespace(other_, "secret");
  EXPECT_EQ(c->getattr(theirs.ref.ns, ns::kRootInode).status().code(), ErrorCode::kPermissionDenied)
      << "a namespace id the session did not mount";
}

TEST_F(NativeTest, FileCallsAndARetriedMutationAppliesOnce) {
  auto c = connect();
  auto m = *c->mount("files");
  gateway::Caller who{1000, 1000, {}, {}};
  auto f = c->create(m.ns, m.root.ino, "a", 0644, true, who);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  std::string data = kiseki::testing::random_bytes(3 << 20, 5);  // several frames
  ASSERT_TRUE(c->write(m.ns, f->ino, 10, data, false, who).is_ok());
  ASSERT_TRUE(c->fsync(m.ns, f->ino, who).is_ok());
  auto back = c->read(m.ns, f->ino, 0, 4 << 20, who);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, std::string(10, '\0') + data);
  EXPECT_EQ(c->getattr(m.ns, f->ino)->uid, 1000u);

  // The same request id twice: the second gets the first's result, not EEXIST.
  gateway::Caller again = who;
  again.req = RequestId{77, 1};
  auto d1 = c->mkdir(m.ns, m.root.ino, "d", 0755, again);
  auto d2 = c->mkdir(m.ns, m.root.ino, "d", 0755, again);
  ASSERT_TRUE(d1.is_ok() && d2.is_ok()) << d2.status().to_string();
  EXPECT_EQ(d1->ino, d2->ino);
  gateway::Caller fresh = who;
  fresh.req = RequestId{77, 2};
  EXPECT_EQ(c->mkdir(m.ns, m.root.ino, "d", 0755, fresh).status().code(), ErrorCode::kExists);

  auto entries = c->readdirplus(m.ns, m.root.ino, 0, 100, who);
  ASSERT_TRUE(entries.is_ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].attr.size + (*entries)[1].attr.size, data.size() + 10);
  EXPECT_EQ(c->mknod(m.ns, who).code(), ErrorCode::kNotSupported);
}

TEST_F(NativeTest, ObjectsLargerThanAFrameAndManyCallsInFlight) {
  auto c = connect();
  auto m = *c->mount("files");
  std::string big = kiseki::testing::random_bytes(19 << 20, 9);  // a multipart upload of 3 parts
  auto put = c->put_object(m.ns, "dir/big.bin", big);
  ASSERT_TRUE(put.is_ok()) << put.status().to_string();
  EXPECT_EQ(put->part_sizes.size(), 3u);
  auto got = c->get_object(m.ns, "dir/big.bin", 0, std::nullopt);
  ASSERT_TRUE(got.is_ok());
  EXPECT_TRUE(*got == big);
  EXPECT_EQ(*c->get_object(m.ns, "dir/big.bin", 5 << 20, 100), big.substr(5 << 20, 100));

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "small/" + std::to_string(t) + "-" + std::to_string(i);
        std::string body = kiseki::testing::random_bytes(1000 + t * 10 + i, t * 100 + i);
        if (c->put_object(m.ns, key, body).is_ok() && *c->get_object(m.ns, key, 0, std::nullopt) == body) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 320);
  gateway::ListRequest req;
  req.prefix = "small/";
  req.max_keys = 1000;
  EXPECT_EQ(c->list_objects(m.ns, req)->objects.size(), 320u);
  ASSERT_TRUE(c->delete_object(m.ns, "dir/big.bin").is_ok());
  EXPECT_EQ(c->head_object(m.ns, "dir/big.bin").status().code(), ErrorCode::kNotFound);
}

// READ and GET answer with the opened chunks after the frame's payload (the
// length and CRC count them): every shape of read comes back byte for byte.
TEST_F(NativeTest, ReadsOfEveryShapeComeBackByteForByte) {
  auto c = connect();
  auto m = *c->mount("files");
  gateway::Caller who{1000, 1000, {}, {}};
  auto f = c->create(m.ns, m.root.ino, "many", 0644, true, who);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  // 300 writes of 4 KiB: 300 extents, more than one pinned read gives, then a
  // hole and a tail.
  std::string model;
  for (int i = 0; i < 300; ++i) {
    std::string piece = kiseki::testing::random_bytes(4096, 100 + i);
    ASSERT_TRUE(c->write(m.ns, f->ino, model.size(), piece, true, who).is_ok());
    model += piece;
  }
  std::string tail = kiseki::testing::random_bytes(70000, 7);
  ASSERT_TRUE(c->write(m.ns, f->ino, model.size() + 5000, tail, true, who).is_ok());
  model += std::string(5000, '\0') + tail;
  struct Shape {
    uint64_t offset, length;
  };
  for (Shape s : std::vector<Shape>{{0, 1 << 20},
                                    {1, 4095},
                                    {4095, 2},
                                    {1000, 300000},
                                    {model.size() - 80000, 1 << 20},
                                    {model.size() - 1, 10},
                                    {model.size(), 10},
                                    {model.size() + 10, 10},
                                    {0, model.size() + 1}}) {
    auto back = c->read(m.ns, f->ino, s.offset, s.length, who);
    ASSERT_TRUE(back.is_ok()) << s.offset << "+" << s.length << ": " << back.status().to_string();
    std::string want = s.offset < model.size() ? model.substr(s.offset, s.length) : "";
    EXPECT_TRUE(*back == want) << s.offset << "+" << s.length << ": " << back->size() << " bytes, want "
                               << want.size();
  }
  auto tiny = c->create(m.ns, m.root.ino, "tiny", 0644, true, who);  // inline in its inode
  ASSERT_TRUE(tiny.is_ok());
  ASSERT_TRUE(c->write(m.ns, tiny->ino, 0, "small", true, who).is_ok());
  EXPECT_EQ(*c->read(m.ns, tiny->ino, 1, 100, who), "mall");

  std::string obj = kiseki::testing::random_bytes(3 << 20, 11);  // chunks, and more than a frame
  ASSERT_TRUE(c->put_object(m.ns, "obj", obj).is_ok());
  EXPECT_TRUE(*c->get_object(m.ns, "obj", 0, std::nullopt) == obj);
  EXPECT_TRUE(*c->get_object(m.ns, "obj", 12345, 1 << 20) == obj.substr(12345, 1 << 20));
  EXPECT_EQ(*c->get_object(m.ns, "obj", obj.size() - 3, 100), obj.substr(obj.size() - 3));
  EXPECT_EQ(c->get_object(m.ns, "obj", obj.size(), 1).status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(c->put_object(m.ns, "empty", "").is_ok());
  EXPECT_EQ(*c->get_object(m.ns, "empty", 0, std::nullopt), "");
}

TEST_F(NativeTest, GarbageAndHugeLengthsCloseOnlyTheirConnection) {
  auto c = connect();
  auto m = *c->mount("files");
  char buf[256];
  // Not a frame: the connection is closed at once.
  int fd = dial();
  std::string junk(64, 'G');
  ASSERT_EQ(::send(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  EXPECT_EQ(::recv(fd, buf, sizeof(buf), 0), 0);
  ::close(fd);
  // A header announcing 3 GiB: closed from the header alone.
  fd = dial();
  net::FrameHeader h;
  h.opcode = static_cast<uint16_t>(Op::kPing);
  std::string frame = net::encode_frame(h, "");
  put_be32(reinterpret_cast<uint8_t*>(frame.data() + 24), 3u << 30);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  EXPECT_EQ(::recv(fd, buf, sizeof(buf), 0), 0);
  ::close(fd);
  // A damaged frame: an error frame with its request id, and the connection goes on.
  fd = dial();
  h.request_id = 5;
  frame = net::encode_frame(h, "abc");
  frame.back() ^= 1;
  std::string ping = frame + net::encode_frame(net::FrameHeader{0, static_cast<uint16_t>(Op::kPing), 6}, "");
  ASSERT_EQ(::send(fd, ping.data(), ping.size(), 0), static_cast<ssize_t>(ping.size()));
  net::FrameReader r;
  std::vector<net::Frame> answers;
  std::vector<std::string> recs;
  while (recs.size() < 2) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    ASSERT_TRUE(r.feed(std::string_view(buf, static_cast<size_t>(n))).is_ok());
    while (auto rec = r.next()) recs.push_back(std::move(*rec));
  }
  std::map<uint64_t, uint32_t> status;
  for (const auto& rec : recs) {
    net::Frame f;
    ASSERT_TRUE(net::parse_frame(rec, &f).is_ok());
    status[f.header.request_id] = f.header.status;
  }
  EXPECT_EQ(status[5], static_cast<uint32_t>(ErrorCode::kCorruption));
  EXPECT_EQ(status[6], 0u);
  ::close(fd);
  // The client that behaved was served all along.
  EXPECT_TRUE(c->put_object(m.ns, "still", "here").is_ok());
}

TEST_F(NativeTest, CallsInFlightAreSentAgainAfterTheServerComesBack) {
  auto c = connect();
  auto m = *c->mount("files");
  ASSERT_TRUE(c->put_object(m.ns, "before", "1").is_ok());
  uint16_t port = server_->port();
  server_.reset();
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    NativeServerOptions so;
    so.listen = "127.0.0.1:" + std::to_string(port);
    server_ = std::move(*NativeServer::start(gw_.get(), so));
  });
  auto r = c->put_object(m.ns, "after", "2");  // waits, reconnects, authenticates, mounts again
  restart.join();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*c->get_object(m.ns, "after", 0, std::nullopt), "2");
}

}  // namespace kiseki::native

namespace kiseki::native {
namespace {

// A call that waited in the server's queue past its deadline is answered
// kTimeout and not run; one within it, or without a deadline, runs.
TEST_F(NativeTest, ACallPastItsDeadlineInTheQueueIsNotRun) {
  NativeService service(gw_.get());
  auto session = service.connected(net::Peer{0x7f000001, 1, "127.0.0.1"});
  auto status_of = [&](uint32_t deadline_ms, std::chrono::milliseconds waited) {
    net::FrameHeader h;
    h.opcode = static_cast<uint16_t>(Op::kHello);
    h.request_id = 7;
    h.deadline_ms = deadline_ms;
    std::string payload;
    Encoder(&payload).str(key_.access_key_id);
    auto reply = service.handle(net::encode_frame(h, payload), *session, waited);
    EXPECT_TRUE(reply.has_value());
    net::Frame f;
    EXPECT_TRUE(net::parse_frame(*reply, &f).is_ok());
    EXPECT_EQ(f.header.request_id, 7u);
    return static_cast<ErrorCode>(f.header.status);
  };
  EXPECT_EQ(status_of(100, std::chrono::milliseconds(250)), ErrorCode::kTimeout);
  EXPECT_EQ(status_of(100, std::chrono::milliseconds(5)), ErrorCode::kOk);
  EXPECT_EQ(status_of(0, std::chrono::milliseconds(60000)), ErrorCode::kOk);
}

}  // namespace
}  // namespace kiseki::native
