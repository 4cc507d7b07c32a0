// libFuzzer: the admin API as kiseki-server serves it: an HTTP request through
// Beast's parser, then AdminApi::handle over a real Gateway (no token: every
// route is open to the fuzzer), JSON bodies included. Backups are left out
// (they write to a directory the request names), shreds too (their background
// purge: see docs/fuzzing.md, an open lead), and any percent-encoded target
// that could spell either.
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "server/admin_api.h"

namespace http = boost::beast::http;
using namespace kiseki;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static server::AdminApi* api = new server::AdminApi(fuzz::world().gw.get());
  http::request_parser<http::string_body> p;
  p.eager(true);
  p.header_limit(16 << 10);
  p.body_limit(1 << 20);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(data, size), ec);
  if (ec && ec != http::error::need_more) return 0;
  if (!p.is_header_done()) return 0;
  std::string_view target = p.get().target();
  for (std::string_view skip : {"backup", "shred", "%"})
    if (target.find(skip) != std::string_view::npos) return 0;
  (void)api->handle(p.get());
  return 0;
}
