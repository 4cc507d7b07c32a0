// libFuzzer: the records the state machine and the metadata store keep (delta
// records of the log, inodes, dentries, directory cookies). A record that
// decodes must encode and decode again to the same deltas.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "namespace/delta.h"
#include "namespace/inode.h"

using namespace kiseki;

// KISEKI_FUZZ_SEEDS=DIR: writes the seed corpus (records the real encoders
// make) into DIR and exits; tests/fuzz/corpus/fuzz_records holds its output.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KISEKI_FUZZ_SEEDS");
  if (!dir) return 0;
  ns::Delta create;
  create.op = ns::Op::kCreate;
  create.ns = 3;
  create.parent = 1;
  create.name = "notes.txt";
  create.time_ns = 1767225600000000000;
  ns::Delta rename = create;
  rename.op = ns::Op::kRename;
  rename.parent2 = 1;
  rename.name2 = "moved.txt";
  rename.flags = ns::kNoReplace;
  ns::Delta put = create;
  put.op = ns::Op::kPutObject;
  put.name = "photos/2026/a.jpg";
  put.blob = std::string(40, 'x');
  ns::Inode inode;
  inode.ino = 9;
  inode.size = 65536;
  inode.nlink = 1;
  inode.content = std::string(60, 'c');
  ns::Dentry dentry;
  dentry.ino = 9;
  const std::pair<const char*, std::string> seeds[] = {
      {"create", ns::encode_record({create}, RequestId{1, 2})},
      {"batch", ns::encode_record({create, rename, put})},
      {"inode", ns::encode_inode(inode)},
      {"dentry", ns::encode_dentry(dentry)},
      {"dircookie", ns::encode_dircookie("notes.txt", 9, ns::FileType::kFile)}};
  for (const auto& [name, bytes] : seeds) std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<ns::Delta> deltas;
  RequestId req;
  if (ns::decode_record(in, &deltas, &req)) {
    std::string again = ns::encode_record(deltas, req);
    std::vector<ns::Delta> second;
    RequestId req2;
    if (!ns::decode_record(again, &second, &req2) || second.size() != deltas.size() ||
        ns::encode_record(second, req2) != again)
      std::abort();  // what was written could not be read back the same
  }
  ns::Inode inode;
  if (ns::decode_inode(in, &inode)) {
    ns::Inode again;
    if (!ns::decode_inode(ns::encode_inode(inode), &again)) std::abort();
  }
  ns::Dentry dentry;
  (void)ns::decode_dentry(in, &dentry);
  ns::DirCookieEntry cookie;
  (void)ns::decode_dircookie(in, &cookie);
  (void)ns::validate_name(in);
  return 0;
}
