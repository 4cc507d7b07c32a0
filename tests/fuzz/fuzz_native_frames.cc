// libFuzzer: the native protocol's frames (net/frame.h) as a byte stream fed in
// pieces whose sizes the input picks, every whole frame parsed, and every
// payload decoder of protocols/native/wire.h run over each payload and over the
// raw input. Nothing may crash, read out of bounds or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "net/frame.h"
#include "protocols/native/wire.h"

namespace {

using namespace kiseki;

void decode_every_way(std::string_view payload) {
  {
    Decoder d(payload);
    gateway::Caller c;
    if (native::decode_caller(d, &c)) {
      gateway::SetAttrRequest r;
      (void)native::decode_setattr(d, &r);
    }
  }
  {
    Decoder d(payload);
    gateway::FileAttr a;
    (void)native::decode_attr(d, &a);
  }
  {
    Decoder d(payload);
    gateway::ObjectMeta m;
    (void)native::decode_meta(d, &m);
  }
  {
    Decoder d(payload);
    gateway::ObjectInfo i;
    (void)native::decode_info(d, &i);
  }
  {
    Decoder d(payload);
    gateway::FsStats s;
    (void)native::decode_fsstats(d, &s);
  }
}

}  // namespace

// KISEKI_FUZZ_SEEDS=DIR: writes the seed corpus (frames the real encoders
// make) into DIR and exits; tests/fuzz/corpus/fuzz_native_frames holds its output.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KISEKI_FUZZ_SEEDS");
  if (!dir) return 0;
  auto frame = [](native::Op op, uint64_t id, const std::string& payload) {
    net::FrameHeader h;
    h.opcode = static_cast<uint16_t>(op);
    h.request_id = id;
    h.deadline_ms = 30000;
    return net::encode_frame(h, payload);
  };
  std::string hello, caller, attr, setattr, meta;
  Encoder(&hello).str("AKIAEXAMPLE");
  gateway::Caller c;
  c.uid = 1000;
  c.gid = 1000;
  c.groups = {4, 27};
  c.req = RequestId{42, 7};
  Encoder ec(&caller);
  ec.u64(1);
  native::encode_caller(ec, c);
  ec.u64(1).str("file.txt");
  gateway::FileAttr a;
  a.ino = 9;
  a.size = 65536;
  a.nlink = 1;
  Encoder ea(&attr);
  native::encode_attr(ea, a);
  gateway::SetAttrRequest r;
  r.size = 10;
  r.mode = 0644;
  Encoder es(&setattr);
  native::encode_caller(es, c);
  native::encode_setattr(es, r);
  gateway::ObjectMeta m;
  m.content_type = "text/plain";
  m.user_meta["k"] = "v";
  Encoder em(&meta);
  native::encode_meta(em, m);
  std::string both = frame(native::Op::kPing, 1, "") + frame(native::Op::kHello, 2, hello);
  std::string bad = frame(native::Op::kLookup, 3, caller);
  bad[bad.size() - 1] ^= 1;  // the CRC fails
  const std::pair<const char*, std::string> seeds[] = {
      {"ping-hello", both},          {"lookup", frame(native::Op::kLookup, 3, caller)},
      {"attr", frame(native::Op::kGetattr, 4, attr)}, {"setattr", frame(native::Op::kSetattr, 5, setattr)},
      {"meta", frame(native::Op::kPutObject, 6, meta)}, {"bad-crc", bad}};
  for (const auto& [name, bytes] : seeds) std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  net::FrameReader reader(64 << 10);
  uint32_t step = size ? data[0] : 1;
  for (size_t pos = 0; pos < in.size();) {
    step = step * 1103515245u + 12345u;
    size_t n = std::min<size_t>(in.size() - pos, 1 + (step >> 16) % 61);
    if (!reader.feed(in.substr(pos, n))) break;  // unframeable: the connection would close
    pos += n;
    while (auto rec = reader.next()) {
      net::Frame f;
      (void)net::parse_frame(*rec, &f);
      (void)net::parse_header(*rec);
      decode_every_way(f.payload);
    }
  }
  decode_every_way(in);
  return 0;
}
