// Named crash points for crash tests, compiled into debug builds only
// (KISEKI_KILL_POINTS): KISEKI_KILL_POINT("log.after_wal_sync") kills the
// process with SIGKILL, as kill -9 would, when the environment variable
// KISEKI_KILL_POINT names that point ("NAME" or "NAME:N" for its Nth pass).
// The points are listed in docs/durability.md; elsewhere the macro is nothing.
#pragma once

#ifdef KISEKI_KILL_POINTS
#include <string_view>

namespace kiseki {
void kill_point(std::string_view name);
}  // namespace kiseki

#define KISEKI_KILL_POINT(name) ::kiseki::kill_point(name)
#else
#define KISEKI_KILL_POINT(name) ((void)0)
#endif
