#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rtseg/framework/plugin_host.h"
#include "rtseg/framework/registry.h"

namespace spdlog {
class logger;
}

namespace rtseg::framework {

struct RuntimeOptions {
  /// Load the plugin folders next to the executable and those in RTSEG_PLUGIN_PATH.
  bool load_default_plugins = true;
  /// More plugin folders or files (e.g. --plugin-dir), loaded after the defaults.
  std::vector<std::filesystem::path> plugin_paths;
  std::shared_ptr<spdlog::logger> logger;  ///< default: make_logger("rtseg")
};

/// Owns the registry and the plugin libraries for one process. Lives on main()'s stack, never
/// static. Members are destroyed in reverse order: registry entries (factories) before the
/// host's library handles; objects made by plugins pin their own library (Registry::create).
class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }
  PluginHost& plugins() { return *host_; }
  const PluginHost& plugins() const { return *host_; }
  const std::shared_ptr<spdlog::logger>& logger() const { return logger_; }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<PluginHost> host_;  // declared before registry_: destroyed after it
  Registry registry_;
};

/// Default plugin folders: <exe>/plugins and <exe>/../lib/rtseg/plugins, then each folder of
/// RTSEG_PLUGIN_PATH (colon-separated).
std::vector<std::filesystem::path> default_plugin_paths();

}  // namespace rtseg::framework
