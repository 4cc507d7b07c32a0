// Structured logging: one spdlog logger, key=value pairs in messages.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace kiseki {

// Sets up the process logger: level is one of trace, debug, info, warn, error.
void init_logging(std::string_view level, bool json = false);

}  // namespace kiseki

#define KLOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define KLOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define KLOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define KLOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)
