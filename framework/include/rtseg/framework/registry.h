#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "rtseg/sdk/config_reader.h"
#include "rtseg/sdk/kinds.h"
#include "rtseg/sdk/registrar.h"

namespace boost::dll {
class shared_library;
}

namespace rtseg::framework {

/// A loaded plugin library and what it said about itself.
struct PluginRecord {
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path path;
  /// Keeps the library loaded. Null for components the host registers itself (tests).
  std::shared_ptr<boost::dll::shared_library> library;

  /// "plugin 'schedulers' (/path/librtseg_schedulers.so)".
  std::string label() const;
};
using PluginPtr = std::shared_ptr<const PluginRecord>;

/// One registered component.
template <class T>
struct RegistryEntry {
  // Declared first so it is destroyed last: the factory's code lives in the provider's library.
  PluginPtr provider;
  std::string name;
  sdk::ComponentFactory<T> factory;
};

/// What a plugin's register function added, before it is committed.
struct RegistrationBatch {
  template <class T>
  using List = std::vector<std::pair<std::string, sdk::ComponentFactory<T>>>;
  std::tuple<List<sdk::Backbone>, List<sdk::Decoder>, List<sdk::SegHead>, List<sdk::Dataset>,
             List<sdk::Scheduler>>
      lists;
  template <class T>
  List<T>& list() {
    return std::get<List<T>>(lists);
  }
  std::size_t size() const;
};

/// Summary of one component for listings.
struct ComponentListing {
  std::string name;
  std::string summary;
  PluginPtr provider;
};

/// Components by (kind, name). Owned by the host (never static). Not thread-safe for writes;
/// plugins are loaded on the main thread before anything else runs.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Adds all of a plugin's components, or none: a name that is already taken (or repeated in
  /// the batch) throws RegistryError naming both providers, and nothing is added.
  void add_batch(RegistrationBatch batch, const PluginPtr& provider);

  /// Adds one component (the host's own, or tests').
  template <class T>
  void add(std::string name, sdk::ComponentFactory<T> factory, const PluginPtr& provider);

  /// The entry for `name`; throws RegistryError listing what exists and the nearest name.
  template <class T>
  const RegistryEntry<T>& find(std::string_view name) const;

  /// Builds a component from its recipe section, then rejects unread keys (reader.finish()).
  /// The returned object keeps its plugin library loaded for as long as it lives.
  template <class T>
  std::shared_ptr<T> create(std::string_view name, sdk::ConfigReader& reader,
                            const sdk::BuildContext& context) const;

  /// Sorted names of one kind.
  std::vector<std::string> names(sdk::ComponentKind kind) const;
  std::vector<ComponentListing> list(sdk::ComponentKind kind) const;
  bool contains(sdk::ComponentKind kind, std::string_view name) const;

  /// Reads (and so validates or documents) a component's options without building it.
  void read_options(sdk::ComponentKind kind, std::string_view name,
                    sdk::ConfigReader& reader) const;

  /// The "no <kind> named ..." message, for callers that report it at a recipe location.
  std::string unknown_name_message(sdk::ComponentKind kind, std::string_view name) const;

 private:
  template <class T>
  using Table = std::map<std::string, RegistryEntry<T>, std::less<>>;
  std::tuple<Table<sdk::Backbone>, Table<sdk::Decoder>, Table<sdk::SegHead>, Table<sdk::Dataset>,
             Table<sdk::Scheduler>>
      tables_;

  template <class T>
  Table<T>& table() {
    return std::get<Table<T>>(tables_);
  }
  template <class T>
  const Table<T>& table() const {
    return std::get<Table<T>>(tables_);
  }
  template <class F>
  decltype(auto) visit(sdk::ComponentKind kind, F&& f) const;
  template <class T>
  void check_batch(const RegistrationBatch::List<T>& list, const PluginPtr& provider) const;
  template <class T>
  void commit_batch(RegistrationBatch::List<T>& list, const PluginPtr& provider);
};

#define RTSEG_REGISTRY_EXTERN(T)                                                               \
  extern template void Registry::add<T>(std::string, sdk::ComponentFactory<T>, const PluginPtr&); \
  extern template const RegistryEntry<T>& Registry::find<T>(std::string_view) const;              \
  extern template std::shared_ptr<T> Registry::create<T>(std::string_view, sdk::ConfigReader&,    \
                                                         const sdk::BuildContext&) const;
RTSEG_REGISTRY_EXTERN(sdk::Backbone)
RTSEG_REGISTRY_EXTERN(sdk::Decoder)
RTSEG_REGISTRY_EXTERN(sdk::SegHead)
RTSEG_REGISTRY_EXTERN(sdk::Dataset)
RTSEG_REGISTRY_EXTERN(sdk::Scheduler)
#undef RTSEG_REGISTRY_EXTERN

}  // namespace rtseg::framework
