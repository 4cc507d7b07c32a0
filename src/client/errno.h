// The errno a POSIX caller (the FUSE mount, the C ABI) gets for an error.
#pragma once

#include "common/status.h"

namespace kiseki::client {

int to_errno(ErrorCode code);

}  // namespace kiseki::client
