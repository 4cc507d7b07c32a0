// The fastest responder we can make: answers every S3-shaped request from memory
// (no auth, no storage), so kiseki-profile's own CPU per operation can be measured.
#pragma once

#include <string>

#include "common/status.h"

namespace kiseki::profile {

Status serve_null(const std::string& listen, uint64_t object_size);

}  // namespace kiseki::profile
