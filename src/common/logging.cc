#include "common/logging.h"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <mutex>

namespace kiseki {

namespace {

// A file sink that can be reopened by name (spdlog's own keeps its handle).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) { file_.open(path, false); }
  void reopen() {
    std::lock_guard lock(mutex_);
    file_.reopen(false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    file_.write(buf);
  }
  void flush_() override { file_.flush(); }

 private:
  spdlog::details::file_helper file_;
};

// %* in a pattern: the message as a JSON string's contents (quotes, backslashes
// and control characters escaped), so every JSON line parses.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
        dest.append(esc, esc + sizeof(esc));
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

std::shared_ptr<ReopenableFileSink> g_file_sink;

}  // namespace

Status init_logging(std::string_view level, bool json, const std::string& log_file) {
  std::shared_ptr<spdlog::logger> logger;
  if (log_file.empty()) {
    logger = spdlog::stderr_color_mt("kiseki");
  } else {
    try {
      g_file_sink = std::make_shared<ReopenableFileSink>(log_file);
    } catch (const spdlog::spdlog_ex& e) {
      return io_error("cannot open the log file " + log_file + ": " + e.what());
    }
    logger = std::make_shared<spdlog::logger>("kiseki", g_file_sink);
    logger->flush_on(spdlog::level::info);  // a line is in the file once logged
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  if (json) {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    f->add_flag<JsonEscapedMessage>('*').set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(f));
  } else {
    spdlog::set_pattern(log_file.empty() ? "%Y-%m-%dT%H:%M:%S.%f %^%l%$ %v" : "%Y-%m-%dT%H:%M:%S.%f %l %v");
  }
  return Status::ok();
}

Status reopen_log_file() {
  if (!g_file_sink) return Status::ok();
  try {
    g_file_sink->reopen();
  } catch (const spdlog::spdlog_ex& e) {
    return io_error(std::string("cannot reopen the log file: ") + e.what());
  }
  return Status::ok();
}

}  // namespace kiseki
