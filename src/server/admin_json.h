// The admin API's JSON answers and request bodies, for the files that route
// its parts (admin_api.cc, admin_cluster.cc).
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "common/status.h"
#include "server/admin_api.h"
#include "server/http_server.h"

namespace kiseki::server {

Response reply(http::status st, const boost::json::value& body);
// {"error": CODE, "message": ...} with the status that fits the code.
Response error(const Status& s);
// The request's body as a JSON object (an empty body is an empty object).
Result<boost::json::object> body_object(const Request& req);
Result<std::string> string_field(const boost::json::object& o, std::string_view key);

}  // namespace kiseki::server
