// Duplicate request cache: a client that lost a reply resends the call with the
// same xid. For non-idempotent procedures (CREATE, REMOVE, RENAME, ...) running
// it twice would give a wrong answer (EXIST, NOENT), so the first reply is kept
// and sent again; a resend that arrives while the first is still running is
// dropped (the client will resend once more and get the cached reply).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/metrics.h"

namespace kiseki::nfs {

// A client is its address and port, as in other NFS servers: calls of different
// connections (or processes) on one host may share xids; a client that
// reconnects reuses its source port for its resends.
struct DrcKey {
  uint32_t client_ip = 0;
  uint16_t client_port = 0;
  uint32_t xid = 0;
  uint32_t prog = 0, vers = 0, proc = 0;
  uint32_t args_crc = 0;  // tells a reused xid with other arguments apart
  uint32_t args_len = 0;
  bool operator==(const DrcKey&) const = default;
};

class DuplicateRequestCache {
 public:
  explicit DuplicateRequestCache(size_t capacity = 8192);
  enum class State { kNew, kInProgress, kReplay };
  // kNew: the caller runs the call and then calls finish(). kInProgress: drop the
  // call. kReplay: `reply` holds the reply to send again.
  State begin(const DrcKey& k, std::string* reply);
  void finish(const DrcKey& k, const std::string& reply);
  // Forgets an in-progress entry whose call produced no reply.
  void abandon(const DrcKey& k);

 private:
  struct Hash {
    size_t operator()(const DrcKey& k) const {
      return (uint64_t{k.client_ip} << 32 | k.xid) ^ (uint64_t{k.args_crc} << 17) ^ (uint64_t{k.client_port} << 5) ^ k.proc;
    }
  };
  struct Entry {
    bool done = false;
    std::string reply;
    std::list<DrcKey>::iterator lru;
  };
  size_t capacity_;
  std::mutex mu_;  // guards entries_ and lru_
  std::unordered_map<DrcKey, Entry, Hash> entries_;
  std::list<DrcKey> lru_;  // oldest first
  Counter* hits_;
};

}  // namespace kiseki::nfs
