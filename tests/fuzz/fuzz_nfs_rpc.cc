// libFuzzer: ONC RPC record marking, the call header (RFC 5531, AUTH_SYS) and
// every MOUNT and NFSv3 procedure's arguments, decoded and run by the real
// services over a real Gateway (export /fuzz/data, root squash off for
// 127.0.0.1). The first input byte picks the shape: below 0xF0 it is a call
// to NFSv3 procedure byte % 22, from root if byte / 22 is even, else uid 1000, whose
// arguments are the rest of the input with every "\xFFH" replaced by the
// export root's file handle (XDR opaque); 0xF0 and above, the rest is a byte
// stream of record-marked records, each dispatched as the server would.
#include <cstddef>
#include <cstdint>

#include "protocols/nfs/exports.h"
#include "protocols/nfs/file_handle.h"
#include "protocols/nfs/mount.h"
#include "protocols/nfs/nfs3.h"
#include "protocols/nfs/rpc.h"
#include "protocols/nfs/rpc_dispatcher.h"
#include "protocols/nfs/xdr.h"
#include "fuzz/fuzz_support.h"

using namespace kiseki;
using namespace kiseki::nfs;

namespace {

struct Nfs {
  std::unique_ptr<HandleCodec> handles;
  std::unique_ptr<ExportTable> exports;
  std::unique_ptr<Nfs3Service> nfs3;
  std::unique_ptr<MountService> mount;
  RpcDispatcher dispatcher;
  std::string root;  // XDR: the root handle as an opaque<64>
};

const ClientInfo kClient{0x7f000001, 700, "127.0.0.1"};

std::string call(uint32_t xid, uint32_t prog, uint32_t proc, uint32_t uid, std::string_view args) {
  std::string m;
  XdrEncoder e(&m);
  e.u32(xid).u32(0).u32(2).u32(prog).u32(3).u32(proc);
  std::string sys;
  XdrEncoder(&sys).u32(0).string("fuzz").u32(uid).u32(uid).u32(0);
  e.u32(1).opaque(sys).u32(0).u32(0);
  m.append(args);
  return m;
}

Nfs& services() {
  static Nfs* n = [] {
    auto* out = new Nfs;
    fuzz::World& w = fuzz::world();
    out->handles = std::make_unique<HandleCodec>(*HandleCodec::open(w.gw.get()));
    out->exports = std::make_unique<ExportTable>(w.gw.get(), false, ExportOptions{});
    if (!out->exports->load("/fuzz/data rw,no_root_squash,clients=127.0.0.1")) std::abort();
    out->nfs3 = std::make_unique<Nfs3Service>(w.gw.get(), out->exports.get(), out->handles.get(), Nfs3Options{});
    out->mount = std::make_unique<MountService>(w.gw.get(), out->exports.get(), out->handles.get());
    out->dispatcher.add(out->nfs3.get());
    out->dispatcher.add(out->mount.get());
    // MNT /fuzz/data: the root handle, as a client gets it.
    std::string path;
    XdrEncoder(&path).string("/fuzz/data");
    std::string mnt = call(1, kProgMount, 1, 0, path);
    auto reply = out->dispatcher.handle(mnt, kClient);
    if (!reply) std::abort();
    XdrDecoder d(std::string_view(*reply).substr(4));
    d.u32();           // xid
    d.u32();           // REPLY
    d.u32();           // MSG_ACCEPTED
    d.u32();           // verifier flavor
    d.opaque(400);     // verifier
    d.u32();           // SUCCESS
    if (d.u32() != 0) std::abort();  // MNT3_OK
    std::string_view fh = d.opaque(64);
    if (!d.ok()) std::abort();
    XdrEncoder(&out->root).opaque(fh);
    return out;
  }();
  return *n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Nfs& n = services();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] < 0xF0) {
    std::string args = fuzz::replace_all(rest, "\xFFH", n.root);
    (void)n.dispatcher.handle(call(7, kProgNfs, data[0] % 22, (data[0] / 22) % 2 ? 1000 : 0, args), kClient);
    return 0;
  }
  RecordReader reader(1 << 20);
  if (!reader.feed(rest)) return 0;
  while (auto rec = reader.next()) (void)n.dispatcher.handle(*rec, kClient);
  return 0;
}
