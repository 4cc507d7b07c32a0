#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace kiseki {

void init_logging(std::string_view level, bool json) {
  auto logger = spdlog::stderr_color_mt("kiseki");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  if (json) {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%f %^%l%$ %v");
  }
}

}  // namespace kiseki
