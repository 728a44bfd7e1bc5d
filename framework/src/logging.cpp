#include "rtseg/framework/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::framework {

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_pattern("[%H:%M:%S] [%^%l%$] %v");
  const auto parsed = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (parsed == spdlog::level::off && level != "off") {
    throw sdk::ConfigError("unknown log level '" + level +
                           "'; use one of trace, debug, info, warn, error, off.");
  }
  logger->set_level(parsed);
  return logger;
}

}  // namespace rtseg::framework
