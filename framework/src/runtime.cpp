#include "rtseg/framework/runtime.h"

#include <cstdlib>

#include <absl/strings/str_split.h>
#include <spdlog/spdlog.h>

#include "rtseg/framework/logging.h"
#include "rtseg/framework/paths.h"

namespace rtseg::framework {

std::vector<std::filesystem::path> default_plugin_paths() {
  const std::filesystem::path exe_dir = executable_dir();
  std::vector<std::filesystem::path> paths = {
      exe_dir / "plugins", (exe_dir / ".." / "lib" / "rtseg" / "plugins").lexically_normal()};
  if (const char* env = std::getenv("RTSEG_PLUGIN_PATH")) {
    // Debian's Abseil has its own string_view, not std::string_view.
    for (absl::string_view part : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      paths.emplace_back(std::string(part));
    }
  }
  return paths;
}

Runtime::Runtime(RuntimeOptions options)
    : logger_(options.logger ? options.logger : make_logger("rtseg")),
      host_(std::make_unique<PluginHost>(registry_, logger_)) {
  if (options.load_default_plugins) {
    for (const auto& path : default_plugin_paths()) host_->load_path(path);
  }
  for (const auto& path : options.plugin_paths) host_->load_path(path);
}

Runtime::~Runtime() = default;

}  // namespace rtseg::framework
