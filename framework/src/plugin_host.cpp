#include "rtseg/framework/plugin_host.h"

#include <algorithm>
#include <cstring>

#include <dlfcn.h>

#include <boost/dll/shared_library.hpp>
#include <spdlog/spdlog.h>

#include "rtseg/sdk/abi.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/plugin.h"

namespace rtseg::framework {
namespace {

using sdk::PluginLoadError;

std::string abi_text(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Collects what a plugin registers; nothing reaches the registry unless the register function
// returns normally.
class StagingRegistrar final : public sdk::Registrar {
 public:
  explicit StagingRegistrar(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  ~StagingRegistrar() = default;

  void add_backbone(std::string name, sdk::ComponentFactory<sdk::Backbone> f) override { stage(name, f); }
  void add_decoder(std::string name, sdk::ComponentFactory<sdk::Decoder> f) override { stage(name, f); }
  void add_seg_head(std::string name, sdk::ComponentFactory<sdk::SegHead> f) override { stage(name, f); }
  void add_dataset(std::string name, sdk::ComponentFactory<sdk::Dataset> f) override { stage(name, f); }
  void add_scheduler(std::string name, sdk::ComponentFactory<sdk::Scheduler> f) override { stage(name, f); }
  std::shared_ptr<spdlog::logger> logger() const override { return logger_; }

  RegistrationBatch take() { return std::move(batch_); }

 private:
  template <class T>
  void stage(std::string& name, sdk::ComponentFactory<T>& factory) {
    if (name.empty()) throw sdk::Error("a component was registered with an empty name");
    if (!factory.create) throw sdk::Error("component '" + name + "' has no create function");
    batch_.list<T>().emplace_back(std::move(name), std::move(factory));
  }

  std::shared_ptr<spdlog::logger> logger_;
  RegistrationBatch batch_;
};

bool looks_like_shared_library(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return path.extension() == ".so" || name.find(".so.") != std::string::npos;
}

}  // namespace

PluginHost::PluginHost(Registry& registry, std::shared_ptr<spdlog::logger> logger)
    : registry_(registry), logger_(std::move(logger)) {}

PluginHost::~PluginHost() = default;

void PluginHost::load_path(const std::filesystem::path& path) {
  searched_.push_back(path);
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    load_file(path);
    return;
  }
  if (!std::filesystem::is_directory(path, error)) {
    logger_->debug("plugin folder {} does not exist", path.string());
    return;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    if (entry.is_regular_file() && looks_like_shared_library(entry.path())) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_file(file);
}

PluginPtr PluginHost::load_file(const std::filesystem::path& file) {
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(file, error);
  if (error) canonical = file;
  if (!attempted_.insert(canonical).second) return nullptr;
  try {
    PluginPtr plugin = load_or_throw(file);
    plugins_.push_back(plugin);
    logger_->debug("loaded {} {}", plugin->label(), plugin->version);
    return plugin;
  } catch (const sdk::Error& failure) {
    failures_.push_back(LoadFailure{file, failure.what()});
    logger_->warn("skipped plugin {}: {}", file.string(), failure.what());
    return nullptr;
  }
}

PluginPtr PluginHost::load_or_throw(const std::filesystem::path& file) {
  namespace dll = boost::dll;
  std::error_code error;
  auto library = std::make_shared<dll::shared_library>(
      file, dll::load_mode::rtld_now | dll::load_mode::rtld_local, error);
  if (error || !library->is_loaded()) {
    const char* reason = dlerror();
    throw PluginLoadError("cannot load the library: " +
                          std::string(reason ? reason : error.message()));
  }
  if (!library->has(sdk::kPluginInfoSymbol)) {
    throw PluginLoadError(std::string("not an rtseg plugin: it exports no '") +
                          sdk::kPluginInfoSymbol +
                          "' symbol. Plugins declare themselves with RTSEG_PLUGIN(...).");
  }
  const auto& info = library->get<const sdk::PluginInfo>(sdk::kPluginInfoSymbol);
  if (info.magic != sdk::kPluginMagic) {
    throw PluginLoadError(std::string("'") + sdk::kPluginInfoSymbol +
                          "' is not an rtseg PluginInfo (wrong magic number).");
  }
  if (info.abi_major != sdk::kAbiMajor || info.abi_minor > sdk::kAbiMinor) {
    throw PluginLoadError("built against rtseg SDK ABI " + abi_text(info.abi_major, info.abi_minor) +
                          ", this host provides ABI " + abi_text(sdk::kAbiMajor, sdk::kAbiMinor) +
                          ". Rebuild the plugin against this rtseg SDK.");
  }
  const std::string plugin_fingerprint = info.build_fingerprint ? info.build_fingerprint : "";
  if (plugin_fingerprint != sdk::host_build_fingerprint()) {
    throw PluginLoadError("build fingerprint mismatch: plugin '" + plugin_fingerprint +
                          "', host '" + sdk::host_build_fingerprint() +
                          "'. Rebuild the plugin with the same compiler and LibTorch as the host.");
  }
  if (!library->has(sdk::kPluginRegisterSymbol)) {
    throw PluginLoadError(std::string("missing entry symbol '") + sdk::kPluginRegisterSymbol +
                          "'. Declare the plugin with RTSEG_PLUGIN(...), which exports it.");
  }

  auto record = std::make_shared<PluginRecord>();
  record->name = info.name ? info.name : "";
  record->version = info.version ? info.version : "";
  record->description = info.description ? info.description : "";
  record->path = file;
  record->library = library;
  if (record->name.empty()) throw PluginLoadError("the plugin has an empty name");
  for (const PluginPtr& loaded : plugins_) {
    if (loaded->name == record->name) {
      throw PluginLoadError("a plugin named '" + record->name + "' is already loaded from " +
                            loaded->path.string() + "; remove one of the two libraries.");
    }
  }

  auto& register_function = library->get_alias<sdk::RegisterFunction>(sdk::kPluginRegisterSymbol);
  RegistrationBatch batch;
  {
    // The staging registrar (and any factory it holds) dies before `library` can unload.
    StagingRegistrar registrar(logger_);
    std::string failure;
    try {
      register_function(registrar);
    } catch (const std::exception& thrown) {
      // Copy the text: the exception object may belong to the plugin's code.
      failure = thrown.what();
    } catch (...) {
      failure = "an exception that is not a std::exception";
    }
    if (!failure.empty()) {
      throw PluginLoadError("its register function failed, nothing it registered was kept: " +
                            failure);
    }
    batch = registrar.take();
  }
  try {
    registry_.add_batch(std::move(batch), record);
  } catch (const sdk::RegistryError& duplicate) {
    throw PluginLoadError(duplicate.what());
  }
  return record;
}

}  // namespace rtseg::framework
