// Structured logging: one spdlog logger, key=value pairs in messages.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace kiseki {

// Sets up the process logger: level is one of trace, debug, info, warn, error,
// critical, off; lines go to stderr, or appended to `log_file` if given (the
// file is opened here, so a path that cannot be written is an error at start).
Status init_logging(std::string_view level, bool json = false, const std::string& log_file = {});
// Closes and reopens the log file by name (after logrotate moved it); a no-op
// when logging to stderr.
Status reopen_log_file();

}  // namespace kiseki

#define KLOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define KLOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define KLOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define KLOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
