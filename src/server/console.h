// The web console: one self-contained page (HTML, CSS and script, nothing
// fetched from elsewhere) served on the admin port at / and /ui. It signs in
// with an admin token and reads the admin API (docs/operations.md).
#pragma once

#include <string_view>

namespace kiseki::server {

std::string_view console_page();

}  // namespace kiseki::server
