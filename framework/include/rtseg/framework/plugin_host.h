#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "rtseg/framework/registry.h"

namespace spdlog {
class logger;
}

namespace rtseg::framework {

/// A library that was not loaded, and why.
struct LoadFailure {
  std::filesystem::path path;
  std::string reason;
};

/// Loads plugin libraries into a Registry.
///
/// For each library: dlopen with RTLD_NOW | RTLD_LOCAL (missing symbols fail here, and plugins
/// cannot see each other's symbols), check the exported PluginInfo (magic, ABI version, build
/// fingerprint) before calling any plugin function, then call its register function against a
/// staging registrar and commit what it added in one go. A library that fails any step is
/// recorded in failures() and logged; the others load normally. Libraries are never unloaded
/// while something the plugin made is alive (see Registry::create).
/// Load on one thread, before other threads start.
class PluginHost {
 public:
  PluginHost(Registry& registry, std::shared_ptr<spdlog::logger> logger);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  /// Loads every shared library directly in `directory`, in name order. A missing directory
  /// loads nothing. A file path loads that file.
  void load_path(const std::filesystem::path& path);

  /// Loads one library; nullptr on failure (recorded in failures()).
  PluginPtr load_file(const std::filesystem::path& file);

  const std::vector<PluginPtr>& plugins() const { return plugins_; }
  const std::vector<LoadFailure>& failures() const { return failures_; }
  /// Folders and files given to load_path, in order (for messages).
  const std::vector<std::filesystem::path>& searched() const { return searched_; }

 private:
  PluginPtr load_or_throw(const std::filesystem::path& file);

  Registry& registry_;
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<PluginPtr> plugins_;
  std::vector<LoadFailure> failures_;
  std::vector<std::filesystem::path> searched_;
  std::set<std::filesystem::path> attempted_;  // canonical paths, each library is tried once
};

}  // namespace rtseg::framework
