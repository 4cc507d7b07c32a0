// libFuzzer: the native protocol's operations as the server runs them, over a
// real Gateway, on a session authenticated for the fuzz tenant with its
// namespace mounted. The input is a sequence of calls, each an opcode index
// (u8, into every opcode the protocol has), a payload length (u16, big-endian)
// and the payload, in which "\xFFN" stands for the mounted namespace's id; each
// is framed with a correct CRC and answered by NativeService::handle.
#include <cstddef>
#include <cstdint>

#include "common/bytes.h"
#include "fuzz/fuzz_support.h"
#include "net/frame.h"
#include "protocols/native/native_service.h"

using namespace kiseki;

namespace {

constexpr uint16_t kOps[] = {1,  2,  3,  4,  20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                             33, 34, 35, 36, 37, 38, 60, 61, 62, 63, 64, 65, 66, 67, 68};

struct Service {
  std::unique_ptr<native::NativeService> service;
  std::unique_ptr<net::Session> session;
  std::string ns_id;  // 8 bytes, big-endian
};

Service& service() {
  static Service* s = [] {
    auto* out = new Service;
    fuzz::World& w = fuzz::world();
    out->service = std::make_unique<native::NativeService>(w.gw.get());
    out->session = out->service->connected(net::Peer{0x7f000001, 1, "127.0.0.1"});
    auto& ns = static_cast<native::NativeSession&>(*out->session);
    ns.authenticated = true;
    ns.key_id = w.key.access_key_id;
    ns.tenant = w.tenant;
    ns.mounted.insert(w.ns.ns);
    Encoder(&out->ns_id).u64(w.ns.ns);
    return out;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Service& s = service();
  uint64_t id = 1;
  for (size_t pos = 0; pos + 3 <= size;) {
    uint16_t op = kOps[data[pos] % (sizeof(kOps) / sizeof(kOps[0]))];
    size_t len = std::min<size_t>(size - pos - 3, size_t{data[pos + 1]} << 8 | data[pos + 2]);
    std::string payload = fuzz::replace_all(
        std::string_view(reinterpret_cast<const char*>(data) + pos + 3, len), "\xFFN", s.ns_id);
    pos += 3 + len;
    net::FrameHeader h;
    h.opcode = op;
    h.request_id = id++;
    (void)s.service->handle(net::encode_frame(h, payload), *s.session, std::chrono::milliseconds(0));
  }
  return 0;
}
