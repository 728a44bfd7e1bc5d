#include "rtseg/framework/registry.h"

#include <set>

#include "rtseg/sdk/components/backbone.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/decoder.h"
#include "rtseg/sdk/components/scheduler.h"
#include "rtseg/sdk/components/seg_head.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/suggest.h"

namespace rtseg::framework {

std::string PluginRecord::label() const {
  if (path.empty()) return "the host (" + name + ")";
  return "plugin '" + name + "' (" + path.string() + ")";
}

std::size_t RegistrationBatch::size() const {
  return std::apply([](const auto&... list) { return (list.size() + ...); }, lists);
}

Registry::Registry() = default;
Registry::~Registry() = default;

namespace {

std::string provider_label(const PluginPtr& provider) {
  return provider ? provider->label() : std::string("the host");
}

}  // namespace

template <class F>
decltype(auto) Registry::visit(sdk::ComponentKind kind, F&& f) const {
  switch (kind) {
    case sdk::ComponentKind::kBackbone: return f(table<sdk::Backbone>());
    case sdk::ComponentKind::kDecoder: return f(table<sdk::Decoder>());
    case sdk::ComponentKind::kSegHead: return f(table<sdk::SegHead>());
    case sdk::ComponentKind::kDataset: return f(table<sdk::Dataset>());
    case sdk::ComponentKind::kScheduler: return f(table<sdk::Scheduler>());
  }
  return f(table<sdk::Backbone>());
}

template <class T>
void Registry::check_batch(const RegistrationBatch::List<T>& list,
                           const PluginPtr& provider) const {
  const std::string kind(sdk::kind_name(sdk::KindOf<T>::value));
  std::set<std::string, std::less<>> in_batch;
  for (const auto& [name, factory] : list) {
    if (auto it = table<T>().find(name); it != table<T>().end()) {
      throw sdk::RegistryError(kind + " '" + name + "' is already provided by " +
                               provider_label(it->second.provider) + "; " +
                               provider_label(provider) +
                               " provides it too and was not loaded. Remove one of the two "
                               "libraries from the plugin folders, or rename the component.");
    }
    if (!in_batch.insert(name).second) {
      throw sdk::RegistryError(provider_label(provider) + " registers " + kind + " '" + name +
                               "' twice; it was not loaded.");
    }
  }
}

template <class T>
void Registry::commit_batch(RegistrationBatch::List<T>& list, const PluginPtr& provider) {
  for (auto& [name, factory] : list) {
    RegistryEntry<T>& entry = table<T>()[name];
    entry.provider = provider;
    entry.name = name;
    entry.factory = std::move(factory);
  }
}

void Registry::add_batch(RegistrationBatch batch, const PluginPtr& provider) {
  // Check every name first, so that a refused plugin leaves nothing behind.
  std::apply([&](const auto&... list) { (check_batch(list, provider), ...); }, batch.lists);
  std::apply([&](auto&... list) { (commit_batch(list, provider), ...); }, batch.lists);
}

template <class T>
void Registry::add(std::string name, sdk::ComponentFactory<T> factory, const PluginPtr& provider) {
  RegistrationBatch batch;
  batch.list<T>().emplace_back(std::move(name), std::move(factory));
  add_batch(std::move(batch), provider);
}

std::string Registry::unknown_name_message(sdk::ComponentKind kind, std::string_view name) const {
  const std::vector<std::string> known = names(kind);
  const std::string kind_text(sdk::kind_name(kind));
  return "no " + kind_text + " named '" + std::string(name) + "' is registered." +
         sdk::did_you_mean(name, known) + " Registered " + kind_text + "s: " + sdk::join_names(known) +
         ". Components come from plugin libraries: check `rtseg plugins`, and add a plugin "
         "folder with RTSEG_PLUGIN_PATH or the recipe's [plugins] paths.";
}

template <class T>
const RegistryEntry<T>& Registry::find(std::string_view name) const {
  const auto& entries = table<T>();
  auto it = entries.find(name);
  if (it == entries.end()) {
    throw sdk::RegistryError(unknown_name_message(sdk::KindOf<T>::value, name));
  }
  return it->second;
}

template <class T>
std::shared_ptr<T> Registry::create(std::string_view name, sdk::ConfigReader& reader,
                                    const sdk::BuildContext& context) const {
  const RegistryEntry<T>& entry = find<T>(name);
  std::unique_ptr<T> object = entry.factory.create(reader, context);
  if (!object) {
    throw sdk::Error(std::string(sdk::kind_name(sdk::KindOf<T>::value)) + " '" +
                     std::string(name) + "' from " + provider_label(entry.provider) +
                     " returned no object.");
  }
  reader.finish();
  // The deleter runs in the host and holds the library: the object's destructor (plugin code)
  // runs first, the library can only unload after it. Constructing from a raw pointer also sets up
  // enable_shared_from_this, which torch::nn::Module relies on.
  std::shared_ptr<boost::dll::shared_library> pin =
      entry.provider ? entry.provider->library : nullptr;
  return std::shared_ptr<T>(object.release(), [pin](T* component) { delete component; });
}

std::vector<std::string> Registry::names(sdk::ComponentKind kind) const {
  return visit(kind, [](const auto& entries) {
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries) out.push_back(name);
    return out;
  });
}

std::vector<ComponentListing> Registry::list(sdk::ComponentKind kind) const {
  return visit(kind, [](const auto& entries) {
    std::vector<ComponentListing> out;
    for (const auto& [name, entry] : entries) {
      out.push_back(ComponentListing{name, entry.factory.summary, entry.provider});
    }
    return out;
  });
}

bool Registry::contains(sdk::ComponentKind kind, std::string_view name) const {
  return visit(kind, [name](const auto& entries) { return entries.count(name) > 0; });
}

void Registry::read_options(sdk::ComponentKind kind, std::string_view name,
                            sdk::ConfigReader& reader) const {
  visit(kind, [&](const auto& entries) {
    auto it = entries.find(name);
    if (it == entries.end()) throw sdk::RegistryError(unknown_name_message(kind, name));
    if (it->second.factory.read_options) it->second.factory.read_options(reader);
  });
}

#define RTSEG_REGISTRY_INSTANTIATE(T)                                                       \
  template void Registry::add<T>(std::string, sdk::ComponentFactory<T>, const PluginPtr&); \
  template const RegistryEntry<T>& Registry::find<T>(std::string_view) const;              \
  template std::shared_ptr<T> Registry::create<T>(std::string_view, sdk::ConfigReader&,    \
                                                  const sdk::BuildContext&) const;
RTSEG_REGISTRY_INSTANTIATE(sdk::Backbone)
RTSEG_REGISTRY_INSTANTIATE(sdk::Decoder)
RTSEG_REGISTRY_INSTANTIATE(sdk::SegHead)
RTSEG_REGISTRY_INSTANTIATE(sdk::Dataset)
RTSEG_REGISTRY_INSTANTIATE(sdk::Scheduler)
#undef RTSEG_REGISTRY_INSTANTIATE

}  // namespace rtseg::framework
