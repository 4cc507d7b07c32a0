// ONC RPC v2 (RFC 5531) as pure codecs: record marking over TCP (multi-fragment
// records with a size cap), the call header with AUTH_NONE / AUTH_SYS, and the
// accepted and rejected replies. The NFS, MOUNT and portmapper servers build on
// these; tests and fuzzers need no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/record.h"
#include "protocols/nfs/xdr.h"

namespace kiseki::nfs {

constexpr uint32_t kRpcVersion = 2;
constexpr size_t kMaxRecordBytes = 4 << 20;  // WRITE of 1 MiB plus headers fits easily

enum class AuthFlavor : uint32_t { kNone = 0, kSys = 1 };

struct AuthSys {
  uint32_t stamp = 0;
  std::string machine;  // at most 255 bytes
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> gids;  // at most 16
};

struct CallHeader {
  uint32_t xid = 0;
  uint32_t prog = 0, vers = 0, proc = 0;
  AuthFlavor flavor = AuthFlavor::kNone;
  std::optional<AuthSys> sys;  // set for AUTH_SYS
};

// Why a call header did not parse; each maps to the reply RFC 5531 prescribes.
enum class CallError {
  kNone,
  kGarbage,        // not even an xid: drop the record (no reply possible)
  kNotCall,        // msg_type is REPLY: ignore
  kRpcMismatch,    // rpcvers != 2: MSG_DENIED / RPC_MISMATCH
  kBadCred,        // malformed or oversized credentials: MSG_DENIED / AUTH_ERROR AUTH_BADCRED
  kUnsupportedAuth // a flavor we do not take: MSG_DENIED / AUTH_ERROR AUTH_REJECTEDCRED
};

struct ParsedCall {
  CallError error = CallError::kNone;
  CallHeader header;
  std::string_view args;  // procedure arguments (into the record)
};

ParsedCall parse_call(std::string_view record);

enum class AcceptStat : uint32_t {
  kSuccess = 0, kProgUnavail = 1, kProgMismatch = 2, kProcUnavail = 3, kGarbageArgs = 4, kSystemErr = 5
};
enum class AuthStat : uint32_t { kBadCred = 1, kRejectedCred = 2, kBadVerf = 3, kRejectedVerf = 4, kTooWeak = 5 };

// Reply headers: the caller appends procedure results after an accepted SUCCESS.
std::string accepted_reply(uint32_t xid, AcceptStat stat, uint32_t mismatch_low = 0, uint32_t mismatch_high = 0);
std::string rpc_mismatch_reply(uint32_t xid);
std::string auth_error_reply(uint32_t xid, AuthStat stat);

// Record marking: each fragment is a 4-byte header (last-fragment bit, 31-bit
// length) and its bytes.
std::string frame_record(std::string_view message);

class RecordReader : public net::RecordReader {
 public:
  explicit RecordReader(size_t max_record = kMaxRecordBytes) : max_(max_record) {}
  // Feeds received bytes. Returns kInvalidArgument if a record would exceed the
  // cap (the connection must then be closed).
  Status feed(std::string_view bytes) override;
  // The next complete record, if any.
  std::optional<std::string> next() override;
  bool has_record() const override { return ready_pos_ < ready_.size(); }
  // Bytes held for records not complete yet (and complete ones not taken).
  size_t buffered() const override { return buf_.size() + partial_.size(); }
  // The memory that holds them.
  size_t footprint() const override { return buf_.capacity() + partial_.capacity(); }

 private:
  size_t max_;
  std::string buf_;       // unparsed input
  std::string partial_;   // fragments of the record being assembled
  std::vector<std::string> ready_;
  size_t ready_pos_ = 0;
};

}  // namespace kiseki::nfs
