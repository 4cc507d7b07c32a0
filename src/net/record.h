// What a record server (record_server.h) asks of a protocol: how to split a
// connection's bytes into records, and the answer to each.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace kiseki::net {

// The other end of a connection.
struct Peer {
  uint32_t ip = 0;  // IPv4, host byte order
  uint16_t port = 0;
  std::string addr;  // "a.b.c.d"
};

// What the server keeps per connection: the peer, and whatever the protocol
// adds (the native protocol's authentication).
struct Session {
  virtual ~Session() = default;
  Peer peer;
};

// Splits one connection's bytes into records.
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // An error: the stream cannot be framed any more (close the connection).
  virtual Status feed(std::string_view bytes) = 0;
  virtual std::optional<std::string> next() = 0;
  virtual bool has_record() const = 0;
  // Bytes held for records not complete yet, and the memory that holds them.
  virtual size_t buffered() const = 0;
  virtual size_t footprint() const = 0;
};

// An answer to one record: `framed` (its record mark counts the tail too),
// then `tail`'s slices, sent as they lie (file data from opened chunks, with
// no copy) and kept alive by `pins` until sent.
struct Reply {
  std::string framed;
  std::vector<ByteSpan> tail;
  std::vector<std::shared_ptr<const void>> pins;
  void clear() {
    framed.clear();
    tail.clear();
    pins.clear();
  }
  // The whole answer as one string (for a caller that sends it so).
  std::string flatten() && {
    for (ByteSpan s : tail) framed.append(reinterpret_cast<const char*>(s.data()), s.size());
    tail.clear();
    pins.clear();
    return std::move(framed);
  }
};

// A protocol as the server sees it.
class RecordService {
 public:
  virtual ~RecordService() = default;
  virtual std::unique_ptr<RecordReader> reader() const = 0;
  virtual std::unique_ptr<Session> connected(const Peer& peer) {
    auto s = std::make_unique<Session>();
    s->peer = peer;
    return s;
  }
  // The framed answer to one record, or nullopt for none. Called on many
  // threads at once, for one connection too. `waited`: how long the whole
  // record waited in the server for a worker (a protocol with deadlines may
  // answer one that has passed without running the call).
  virtual std::optional<std::string> handle(std::string_view record, Session& session,
                                            std::chrono::milliseconds waited) = 0;
  // The same answer into `out` (cleared), its bulk data as slices where the
  // protocol can; false for none. The server sends what this gives.
  virtual bool answer(std::string_view record, Session& session, std::chrono::milliseconds waited, Reply* out) {
    out->clear();
    auto r = handle(record, session, waited);
    if (!r) return false;
    out->framed = std::move(*r);
    return true;
  }
  // Whether the record may wait on the disk (a synced commit).
  virtual bool may_block(std::string_view /*record*/) const { return false; }
};

}  // namespace kiseki::net
