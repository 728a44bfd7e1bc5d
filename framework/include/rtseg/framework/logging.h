#pragma once

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace rtseg::framework {

/// A logger writing to stderr ("[12:00:01] [warning] ..."); level: trace, debug, info, warn,
/// error, off. Throws ConfigError for an unknown level.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level = "info");

}  // namespace rtseg::framework
