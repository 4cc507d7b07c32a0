// Crash-test child: writes objects and file ranges through a Gateway under
// durability `sync` and reports each on stdout. "BEGIN ..." before a write,
// "ACK ..." once the Gateway acknowledged it. The test kills this process with
// SIGKILL at various points and checks every acknowledged write afterwards.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gateway/gateway.h"
#include "support/payload.h"

using namespace kiseki;
using namespace kiseki::gateway;
using kiseki::testing::payload;

// "DATA_DIR once CLIENT SEQ": creates file "once" with that request id, reports
// "ACK <ino>" and waits to be killed (the idempotency test retries it after).
static int create_once(const char* dir, uint64_t client, uint64_t seq) {
  GatewayOptions o;
  o.data_dir = dir;
  auto g = Gateway::open(o);
  if (!g) return 1;
  auto& gw = **g;
  TenantId t = *gw.create_tenant("crash");
  NsRef ns = *gw.create_namespace(t, "b");
  Caller who;
  who.req = {client, seq};
  auto f = gw.create(ns, ns::kRootInode, "once", 0644, who, true);
  if (!f) return 1;
  std::printf("ACK %llu\n", (unsigned long long)f->ino);
  std::fflush(stdout);
  for (;;) pause();
}

// "DATA_DIR killpoints": one pass over every path with a kill point (writes
// that roll segments, a multipart upload, deletes and a compaction, a shred
// and its purge), each reported "ACK ..." once done; run with
// KISEKI_KILL_POINT set, it dies at that point.
static int kill_point_workload(const char* dir) {
  GatewayOptions o;
  o.data_dir = dir;
  o.segment_bytes = 256 << 10;
  auto g = Gateway::open(o);
  if (!g) return 1;
  auto& gw = **g;
  auto ack = [](const std::string& what) {
    std::printf("ACK %s\n", what.c_str());
    std::fflush(stdout);
  };
  TenantId t = *gw.create_tenant("crash");
  NsRef ns = *gw.create_namespace(t, "b");
  TenantId gone = *gw.create_tenant("gone");
  NsRef gns = *gw.create_namespace(gone, "g");
  ack("setup");
  std::string body = payload(99, 50000);
  if (!gw.put_object(gns, "doomed", source_from(as_bytes(body)), {})) return 1;
  ack("obj doomed 99 50000");
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    std::string key = "k" + std::to_string(seq);
    std::string data = payload(seq, 100000);
    if (!gw.put_object(ns, key, source_from(as_bytes(data)), {})) return 1;
    ack("obj " + key + " " + std::to_string(seq) + " 100000");
  }
  auto id = gw.create_upload(ns, "multi", {});
  if (!id) return 1;
  std::string part = payload(50, 120000);
  auto p = gw.upload_part(ns, *id, 1, source_from(as_bytes(part)));
  if (!p) return 1;
  ack("part");
  if (!gw.complete_upload(ns, *id, {{1, p->etag}})) return 1;
  ack("obj multi 50 120000");
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    if (!gw.delete_object(ns, "k" + std::to_string(seq))) return 1;
    ack("del k" + std::to_string(seq));
  }
  if (!gw.compact(0.9)) return 1;
  ack("compact");
  if (!gw.shred_tenant(gone)) return 1;
  ack("shred gone");
  if (!gw.purge_shredded()) return 1;
  ack("purge");
  std::printf("DONE\n");
  std::fflush(stdout);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[2]) == "killpoints") return kill_point_workload(argv[1]);
  if (argc == 5 && std::string(argv[2]) == "once")
    return create_once(argv[1], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
  if (argc != 5 || !parse_durability(argv[4])) {
    std::fprintf(stderr, "usage: %s DATA_DIR FIRST_SEQ COUNT sync|group|none\n", argv[0]);
    return 2;
  }
  GatewayOptions o;
  o.data_dir = argv[1];
  o.durability = *parse_durability(argv[4]);
  o.segment_bytes = 4 << 20;  // roll often, so kills land around rolls too
  uint64_t first = std::strtoull(argv[2], nullptr, 10), count = std::strtoull(argv[3], nullptr, 10);
  auto g = Gateway::open(o);
  if (!g) {
    std::fprintf(stderr, "open: %s\n", g.status().to_string().c_str());
    return 1;
  }
  auto& gw = **g;
  auto tenant = gw.find_tenant("crash");
  TenantId t = tenant ? tenant->id : *gw.create_tenant("crash");
  auto nsinfo = gw.find_namespace(t, "b");
  NsRef ns = nsinfo ? nsinfo->ref : *gw.create_namespace(t, "b");
  auto file = gw.lookup(ns, ns::kRootInode, "file");
  InodeId fino = file ? file->ino : gw.create(ns, ns::kRootInode, "file", 0644, {}, true)->ino;
  std::printf("READY\n");
  std::fflush(stdout);
  for (uint64_t seq = first; seq < first + count; ++seq) {
    size_t size = seq % 5 == 0 ? 100 : 20000 + (seq * 7919) % 300000;
    std::string data = payload(seq, size);
    if (seq % 3 == 0) {
      uint64_t off = (seq * 104729) % (2 << 20);
      std::printf("BEGIN file %llu %llu %zu\n", (unsigned long long)seq, (unsigned long long)off, size);
      std::fflush(stdout);
      auto r = gw.write(ns, fino, off, as_bytes(data));
      if (!r) return 1;
      std::printf("ACK file %llu %llu %zu\n", (unsigned long long)seq, (unsigned long long)off, size);
    } else {
      std::string key = "k/" + std::to_string(seq % 7) + "/" + std::to_string(seq);
      std::printf("BEGIN obj %llu %s %zu\n", (unsigned long long)seq, key.c_str(), size);
      std::fflush(stdout);
      auto r = gw.put_object(ns, key, source_from(as_bytes(data)), {});
      if (!r) return 1;
      std::printf("ACK obj %llu %s %zu\n", (unsigned long long)seq, key.c_str(), size);
    }
    std::fflush(stdout);
  }
  std::printf("DONE\n");
  std::fflush(stdout);
  return 0;
}
