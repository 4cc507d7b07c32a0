// The native protocol's operations and their payloads, shared by the server
// (native_server.h) and libkiseki (client/). Frames are net/frame.h; payloads
// are the big-endian Encoder/Decoder of common/bytes.h. docs/native-protocol.md
// lists every operation's arguments and results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "gateway/types.h"

namespace kiseki::native {

enum class Op : uint16_t {
  // session: before kAuth succeeds nothing else is answered but kPing
  kPing = 1,
  kHello = 2,  // str access_key_id → raw32 challenge
  kAuth = 3,   // raw32 HMAC-SHA256(secret, kAuthContext · challenge · access_key_id) → u64 tenant, str name
  kMount = 4,  // str namespace → u64 ns, attr root

  // files: every request begins with u64 ns and a caller (encode_caller)
  kLookup = 20,      // u64 parent, str name → attr
  kGetattr = 21,     // u64 ino → attr
  kSetattr = 22,     // u64 ino, setattr (… u8 stable: a size change synced, or durable at fsync) → attr
  kCreate = 23,      // u64 parent, str name, u32 mode, u8 exclusive → attr
  kMkdir = 24,       // u64 parent, str name, u32 mode → attr
  kMknod = 25,       // answered kNotSupported: Kiseki stores no device or FIFO nodes
  kUnlink = 26,      // u64 parent, str name
  kRmdir = 27,       // u64 parent, str name
  kRename = 28,      // u64 parent, str name, u64 new_parent, str new_name, u32 flags (kRenameNoReplace)
  kLink = 29,        // u64 ino, u64 new_parent, str new_name → attr
  kSymlink = 30,     // u64 parent, str name, str target → attr
  kReadlink = 31,    // u64 ino → str target
  kReaddirplus = 32, // u64 dir, u64 cookie, u32 max → u32 n, n × (str name, u64 cookie, attr)
  kOpen = 33,        // u64 ino, u32 flags → attr (checks access for the flags)
  kRead = 34,        // u64 ino, u64 offset, u32 length → bytes (short at the end)
  kWrite = 35,       // u64 ino, u64 offset, u8 stable, bytes → attr
  kFsync = 36,       // u64 ino
  kRelease = 37,     // u64 ino (no state on the server: answered at once)
  kStatfs = 38,      // → u64 × 5 (FsStats)

  // objects: every request begins with u64 ns
  kPutObject = 60,      // str key, meta, put conditions, bytes → info
  kGetObject = 61,      // str key, u64 offset, u64 length (~0: to the end) → info, at most kMaxIo bytes
  kHeadObject = 62,     // str key → info
  kDeleteObject = 63,   // str key
  kListObjects = 64,    // str prefix, str delimiter, str start_after, u32 max → list
  kCreateUpload = 65,   // str key, meta → str upload_id
  kUploadPart = 66,     // str upload_id, u32 part, bytes → str etag, u64 size
  kCompleteUpload = 67, // str upload_id, u32 n, n × (u32 part, str etag) → info
  kAbortUpload = 68,    // str upload_id
};

// kRename's flags: the target must not exist (checked atomically).
constexpr uint32_t kRenameNoReplace = 1;

constexpr std::string_view kAuthContext = "kiseki-native-v1";
constexpr size_t kChallengeBytes = 32;
// The most bytes one kRead, kWrite, kGetObject or kUploadPart frame carries;
// larger transfers are split by the client.
constexpr uint32_t kMaxIo = 1u << 20;
// The most bytes one kPutObject or kUploadPart carries; the client sends a
// larger object in parts of this size.
constexpr uint32_t kMaxPutBytes = 8u << 20;

bool is_mutation(Op op);

// The bytes the client MACs to answer a challenge.
std::string auth_message(std::string_view challenge, std::string_view access_key_id);

void encode_caller(Encoder& e, const gateway::Caller& c);
bool decode_caller(Decoder& d, gateway::Caller* c);
void encode_attr(Encoder& e, const gateway::FileAttr& a);
bool decode_attr(Decoder& d, gateway::FileAttr* a);
void encode_setattr(Encoder& e, const gateway::SetAttrRequest& r);
bool decode_setattr(Decoder& d, gateway::SetAttrRequest* r);
void encode_meta(Encoder& e, const gateway::ObjectMeta& m);
bool decode_meta(Decoder& d, gateway::ObjectMeta* m);
void encode_info(Encoder& e, const gateway::ObjectInfo& i);
bool decode_info(Decoder& d, gateway::ObjectInfo* i);
void encode_fsstats(Encoder& e, const gateway::FsStats& s);
bool decode_fsstats(Decoder& d, gateway::FsStats* s);

}  // namespace kiseki::native
