// The request loop of an S3 connection, run by a worker once the reactor has a
// request's whole header: parse, authenticate and handle (S3Handler), stream the
// body in and the reply out, then keep the connection for the next request.
#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <vector>

#include "common/logging.h"
#include "crypto/primitives.h"
#include "protocols/s3/server_conn.h"
#include "protocols/s3/stream.h"

namespace kiseki::s3 {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

// How long a worker waits for a keep-alive client's next request before the
// connection goes back to the reactor.
constexpr int kLingerMs = 50;

// Unique per reply, not secret: a random prefix per process and a counter
// (a draw from the system's DRBG per request cost more than the rest of it).
std::string new_request_id() {
  static const uint32_t prefix = [] {
    uint8_t b[4];
    crypto::random_bytes(b);
    return get_be32(b);
  }();
  static std::atomic<uint32_t> seq{0};
  uint8_t b[8];
  put_be32(b, prefix);
  put_be32(b + 4, seq.fetch_add(1, std::memory_order_relaxed));
  std::string s = to_hex(b);
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

void send_plain_error(FdStream& s, int status, const char* code, const char* msg) {
  S3Error e{status, code, msg};
  std::string body = error_xml(e, "", new_request_id());
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(static_cast<http::status>(status))) +
                     "\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  s.write_all(head.data(), head.size());
  s.write_all(body.data(), body.size());
}

bool S3Server::serve(Conn& c) {
  FdStream stream(c.fd, c.ssl);
  // The reactor read the header (and maybe more): the parser starts from it.
  beast::flat_buffer buf(std::max(opts_.max_header_bytes + (32 << 10), c.pending.size()));
  auto give = [&](std::string_view bytes) {
    auto b = buf.prepare(bytes.size());
    std::memcpy(b.data(), bytes.data(), bytes.size());
    buf.commit(bytes.size());
  };
  give(c.pending);
  c.pending.clear();
  for (;;) {
    stream.set_timeout(opts_.io_timeout_s);
    http::request_parser<http::empty_body> hp;
    hp.header_limit(static_cast<uint32_t>(opts_.max_header_bytes));
    hp.body_limit(boost::none);
    beast::error_code ec;
    http::read_header(stream, buf, hp, ec);
    if (ec) {
      if (ec == http::error::header_limit)
        send_plain_error(stream, 400, "RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size.");
      else if (ec != asio::error::eof && ec != http::error::end_of_stream && ec != asio::error::timed_out &&
               ec != asio::error::connection_reset && ec.category() != boost::system::system_category())
        send_plain_error(stream, 400, "BadRequest", "Malformed HTTP request");
      return false;
    }
    auto& h = hp.get();
    S3Request req;
    req.request_id = new_request_id();
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    for (const auto& f : h) fields.emplace_back(f.name_string(), f.value());
    if (!request_from_header(h.method_string(), h.target(), fields, opts_.s3.domain, &req)) {
      send_plain_error(stream, 400, "InvalidURI", "Couldn't parse the specified URI.");
      return false;
    }
    req.remote_ip = std::to_string(c.ip >> 24) + "." + std::to_string((c.ip >> 16) & 255) + "." +
                    std::to_string((c.ip >> 8) & 255) + "." + std::to_string(c.ip & 255);

    // The body streams from the socket on demand; "100 Continue" goes out the
    // first time the handler asks for body bytes.
    http::request_parser<http::buffer_body> bp(std::move(hp));
    bp.body_limit(boost::none);
    bool expect_continue = beast::iequals(req.header_or("expect"), "100-continue");
    bool continued = false;
    bool body_error = false;
    RequestBody body;
    body.content_length = bp.content_length() ? *bp.content_length() : 0;
    // A body of known length is read straight into the handler's buffer (what
    // came with the header first): one copy from the socket, not two through
    // the parser's buffer. A chunked one goes through the parser.
    const bool direct = !bp.chunked() && bp.content_length().has_value();
    uint64_t left = direct ? body.content_length : 0;  // body bytes not yet handed out
    auto body_done = [&] { return direct ? left == 0 : bp.is_done(); };
    body.raw = [&](MutableByteSpan out) -> Result<size_t> {
      if (body_done() || out.empty()) return size_t{0};
      if (expect_continue && !continued) {
        continued = true;
        static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!stream.write_all(kContinue, sizeof(kContinue) - 1)) return io_error("client went away");
      }
      if (direct) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), left));
        size_t got = 0;
        if (buf.size() > 0) {
          got = std::min(want, buf.size());
          std::memcpy(out.data(), buf.data().data(), got);
          buf.consume(got);
        } else {
          beast::error_code rec;
          got = stream.read_some(asio::buffer(out.data(), want), rec);
          if (rec || got == 0) {
            body_error = true;
            return invalid_argument("IncompleteBody: You did not provide the number of bytes specified by the Content-Length HTTP header");
          }
        }
        left -= got;
        return got;
      }
      for (;;) {
        bp.get().body().data = out.data();
        bp.get().body().size = out.size();
        beast::error_code rec;
        http::read_some(stream, buf, bp, rec);
        size_t got = out.size() - bp.get().body().size;
        if (rec == http::error::need_buffer) rec = {};
        if (rec) {
          body_error = true;
          return invalid_argument("IncompleteBody: You did not provide the number of bytes specified by the Content-Length HTTP header");
        }
        if (got > 0) return got;
        if (bp.is_done()) return size_t{0};
      }
    };

    Response res = handler_.handle(req, body);

    // Drain what the handler did not read, so the next request starts clean;
    // give up (and close) past 1 MiB or on a broken body.
    bool keep_alive = bp.get().keep_alive() && !body_error;
    if (keep_alive && !body_done()) {
      if (expect_continue && !continued) {
        keep_alive = false;  // never sent 100: the client may not send the body at all
      } else {
        uint8_t sink[16384];
        uint64_t drained = 0;
        while (!body_done() && drained < (1 << 20)) {
          auto n = body.raw({sink, sizeof(sink)});
          if (!n || *n == 0) break;
          drained += *n;
        }
        keep_alive = body_done();
      }
    }

    uint64_t content_length = res.object ? res.length : res.body.size();
    // An empty body needed no "100 Continue", but a client that asked for one
    // gets it before the final answer on a connection that stays open: botocore
    // otherwise keeps that answer's status line for its next request with
    // Expect on the connection (RFC 9110 10.1.1 allows either).
    std::string head = expect_continue && !continued && keep_alive ? "HTTP/1.1 100 Continue\r\n\r\n" : "";
    head += "HTTP/1.1 " + std::to_string(res.status) + " " +
                       std::string(http::obsolete_reason(static_cast<http::status>(res.status))) + "\r\n";
    for (const auto& [k, v] : res.headers) head += k + ": " + v + "\r\n";
    head += "Date: " + http_date(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count()) + "\r\n";
    if (res.status != 204 && res.status != 304) head += "Content-Length: " + std::to_string(content_length) + "\r\n";
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    bool send_body = req.method != "HEAD" && !res.head;
    if (!res.object) {
      if (send_body && !res.body.empty()) {
        head += res.body;
      }
      if (!stream.write_all(head.data(), head.size())) return false;
    } else if (!send_body || res.length == 0) {
      if (!stream.write_all(head.data(), head.size())) return false;
    } else {
      // Stream the pinned object version in pieces: memory per connection stays
      // bounded. Opened chunks go out as they lie in the cache, the header
      // with the first piece, each piece in one sendmsg where the socket takes it.
      constexpr uint64_t kPiece = 4 << 20;
      // Reused by the thread's next GET (no allocation); a big copy is let go afterwards.
      thread_local gateway::PinnedBytes piece;
      thread_local std::vector<iovec> iov;
      struct Release {
        ~Release() {
          piece.release();
          if (piece.copy.capacity() > (1u << 20)) Bytes().swap(piece.copy);
        }
      } release;
      bool first = true;
      for (uint64_t off = res.offset, end = res.offset + res.length; off < end;) {
        Status st = gw_->read_object_pinned(*res.object, off, std::min(kPiece, end - off), &piece);
        if (!st.is_ok() || piece.size == 0) {
          KLOG_ERROR("s3 GET {} aborted at {}: {}", req.path, off, st.to_string());
          if (first) send_plain_error(stream, 500, "InternalError", "the object could not be read");
          return false;  // past the header the client sees a short body and a closed connection
        }
        iov.clear();
        if (first) iov.push_back({head.data(), head.size()});
        for (ByteSpan s : piece.slices) iov.push_back({const_cast<uint8_t*>(s.data()), s.size()});
        if (!stream.write_v(iov.data(), iov.size())) return false;
        first = false;
        off += piece.size;
        piece.release();
      }
    }
    if (!keep_alive || stopping_) return false;
    // The next request: already here, or sent right away by a client that
    // keeps one going (a short linger spares it a trip through the reactor).
    auto buffered = [&] {
      auto d = buf.data();
      return std::string_view(static_cast<const char*>(d.data()), d.size());
    };
    if (header_end(buffered()) != std::string::npos) continue;
    if (stream.wait_readable(kLingerMs)) {
      char tmp[kHeaderReadBytes];
      while (header_end(buffered()) == std::string::npos && buf.size() <= opts_.max_header_bytes) {
        ssize_t n = stream.read_now(tmp, std::min(sizeof(tmp), buf.max_size() - buf.size()));
        if (n < 0) return false;
        if (n == 0) break;
        give({tmp, static_cast<size_t>(n)});
      }
      if (header_end(buffered()) != std::string::npos) continue;
    }
    c.pending.assign(buffered());  // the reactor waits for the rest
    return true;
  }
}

}  // namespace kiseki::s3
