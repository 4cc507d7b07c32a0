// The one mapping of Kiseki's ErrorCode onto NFSv3 status codes.
#pragma once

#include "common/status.h"
#include "protocols/nfs/nfs3_const.h"

namespace kiseki::nfs {

Nfs3Status nfs3_status(ErrorCode code);
inline Nfs3Status nfs3_status(const Status& s) { return nfs3_status(s.code()); }
const char* nfs3_status_name(uint32_t status);

}  // namespace kiseki::nfs
