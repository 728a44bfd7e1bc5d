#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "rtseg/sdk/export.h"
#include "rtseg/sdk/kinds.h"

namespace spdlog {
class logger;
}

namespace rtseg::sdk {

class ConfigReader;
struct BuildContext;

/// How the host reads, documents and builds one component.
template <class T>
struct ComponentFactory {
  /// One line for `rtseg plugins`.
  std::string summary;
  /// Reads every option through the reader (which also documents them). No side effects.
  std::function<void(ConfigReader&)> read_options;
  /// Builds the component. The host calls ConfigReader::finish() afterwards.
  std::function<std::unique_ptr<T>(ConfigReader&, const BuildContext&)> create;
};

/// The usual factory: `Options options_from(ConfigReader&)` reads the recipe section into a plain
/// struct, `build(Options, context)` constructs the component without knowing about TOML.
template <class T, class Options, class Built>
ComponentFactory<T> make_factory(std::string summary, Options (*options_from)(ConfigReader&),
                                 std::unique_ptr<Built> (*build)(Options, const BuildContext&)) {
  static_assert(std::is_base_of_v<T, Built>, "build() must return the component kind or a subclass");
  ComponentFactory<T> factory;
  factory.summary = std::move(summary);
  factory.read_options = [options_from](ConfigReader& reader) { options_from(reader); };
  factory.create = [options_from, build](ConfigReader& reader, const BuildContext& context) {
    return std::unique_ptr<T>(build(options_from(reader), context));
  };
  return factory;
}

/// What a plugin's register function receives. Implemented by the host; valid only during the call.
/// Throwing from the register function rolls back everything this plugin added.
class RTSEG_SDK_API Registrar {
 public:
  virtual void add_backbone(std::string name, ComponentFactory<Backbone> factory) = 0;
  virtual void add_decoder(std::string name, ComponentFactory<Decoder> factory) = 0;
  virtual void add_seg_head(std::string name, ComponentFactory<SegHead> factory) = 0;
  virtual void add_dataset(std::string name, ComponentFactory<Dataset> factory) = 0;
  virtual void add_scheduler(std::string name, ComponentFactory<Scheduler> factory) = 0;
  /// The host's logger, for the plugin to keep.
  virtual std::shared_ptr<spdlog::logger> logger() const = 0;
  // New kinds are appended here, after the existing functions (a minor ABI bump).

  /// Dispatches to add_<kind>() by the factory's type.
  template <class T>
  void add(std::string name, ComponentFactory<T> factory) {
    constexpr ComponentKind kind = KindOf<T>::value;
    if constexpr (kind == ComponentKind::kBackbone) add_backbone(std::move(name), std::move(factory));
    if constexpr (kind == ComponentKind::kDecoder) add_decoder(std::move(name), std::move(factory));
    if constexpr (kind == ComponentKind::kSegHead) add_seg_head(std::move(name), std::move(factory));
    if constexpr (kind == ComponentKind::kDataset) add_dataset(std::move(name), std::move(factory));
    if constexpr (kind == ComponentKind::kScheduler) add_scheduler(std::move(name), std::move(factory));
  }

 protected:
  ~Registrar();
};

}  // namespace rtseg::sdk
