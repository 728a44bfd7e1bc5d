#include <algorithm>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_context.h"
#include "rtseg/framework/paths.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::cli {
namespace {

std::vector<sdk::OptionDoc> options_of(const framework::Registry& registry, sdk::ComponentKind kind,
                                       const std::string& name) {
  sdk::ConfigReader reader = sdk::ConfigReader::describing("", name);
  registry.read_options(kind, name, reader);
  return reader.docs();
}

std::string provider_text(const framework::PluginPtr& provider) {
  if (!provider) return "built in";
  return provider->name + " " + provider->version + ", " + framework::display_path(provider->path);
}

void print_text(const framework::Runtime& runtime) {
  const auto& host = runtime.plugins();
  std::cout << "Plugin libraries:\n";
  if (host.plugins().empty()) std::cout << "  (none)\n";
  for (const auto& plugin : host.plugins()) {
    std::cout << "  " << plugin->name << " " << plugin->version << "  "
              << framework::display_path(plugin->path) << "\n      " << plugin->description << "\n";
  }
  for (const auto& failure : host.failures()) {
    std::cout << "  refused " << framework::display_path(failure.path) << ": " << failure.reason << "\n";
  }
  for (sdk::ComponentKind kind : sdk::kAllKinds) {
    std::cout << "\n" << sdk::kind_name(kind) << ":\n";
    const auto components = runtime.registry().list(kind);
    if (components.empty()) std::cout << "  (none)\n";
    for (const auto& component : components) {
      std::cout << "  " << component.name << "  (" << provider_text(component.provider) << ")\n"
                << "      " << component.summary << "\n";
      const auto options = options_of(runtime.registry(), kind, component.name);
      std::size_t key_width = 0;
      for (const auto& option : options) key_width = std::max(key_width, option.key.size());
      for (const auto& option : options) {
        std::cout << "      " << std::left << std::setw(static_cast<int>(key_width + 2)) << option.key
                  << std::setw(16) << option.type << std::setw(12)
                  << (option.required ? std::string("required") : option.default_value) << " "
                  << option.doc << "\n";
      }
    }
  }
}

void print_json(const framework::Runtime& runtime) {
  nlohmann::json out;
  out["plugins"] = nlohmann::json::array();
  for (const auto& plugin : runtime.plugins().plugins()) {
    out["plugins"].push_back({{"name", plugin->name},
                              {"version", plugin->version},
                              {"description", plugin->description},
                              {"path", plugin->path.string()}});
  }
  out["refused"] = nlohmann::json::array();
  for (const auto& failure : runtime.plugins().failures()) {
    out["refused"].push_back({{"path", failure.path.string()}, {"reason", failure.reason}});
  }
  out["components"] = nlohmann::json::object();
  for (sdk::ComponentKind kind : sdk::kAllKinds) {
    nlohmann::json components = nlohmann::json::array();
    for (const auto& component : runtime.registry().list(kind)) {
      nlohmann::json options = nlohmann::json::array();
      for (const auto& option : options_of(runtime.registry(), kind, component.name)) {
        options.push_back({{"key", option.key},
                           {"type", option.type},
                           {"default", option.default_value},
                           {"required", option.required},
                           {"doc", option.doc}});
      }
      components.push_back({{"name", component.name},
                            {"summary", component.summary},
                            {"plugin", component.provider ? component.provider->name : ""},
                            {"library", component.provider ? component.provider->path.string() : ""},
                            {"options", options}});
    }
    out["components"][std::string(sdk::kind_name(kind))] = components;
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_plugins_command(CLI::App& app, CliContext& context) {
  CLI::App* command = app.add_subcommand(
      "plugins", "List plugin libraries and their components by kind, with every option");
  auto json = std::make_shared<bool>(false);
  command->add_flag("--json", *json, "Print JSON instead of text");
  command->callback([&context, json] {
    if (*json) {
      print_json(context.runtime());
    } else {
      print_text(context.runtime());
    }
  });
}

}  // namespace rtseg::cli
