#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "cli_context.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/framework/rfdetr/checkpoint.h"
#include "rtseg/framework/rfdetr_args.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::cli {
namespace {

struct CheckOptions {
  std::vector<std::string> files;
  RecipeOptions recipe;
  bool build = false;
  bool allow_missing_plugins = false;
};

struct ShowOptions {
  std::string file;
  std::string stage;
  RecipeOptions recipe;
};

std::string stage_names(const std::vector<framework::Stage>& stages) {
  std::string names;
  for (const auto& stage : stages) names += (names.empty() ? "" : ", ") + stage.name;
  return names;
}

// Checks one recipe file; prints what it found. Returns false after reporting a problem.
bool check_one(CliContext& context, const CheckOptions& options, const std::string& file) {
  const std::string checking = "checking " + framework::display_path(file) + ": ";
  try {
    framework::LoadedRecipe recipe = load_recipe_with_plugins(context, options.recipe, file);
    const auto stages = framework::expand_stages(recipe);
    const framework::Registry& registry = context.runtime().registry();
    for (const auto& stage : stages) {
      framework::CheckOptions check_options;
      check_options.allow_missing_plugins = options.allow_missing_plugins;
      const framework::CheckedRecipe checked =
          framework::check_recipe(stage.document, registry, check_options);
      for (const auto& line : checked.unchecked) std::cerr << "warning: " << line << "\n";
      sdk::BuildContext build_context;
      build_context.logger = context.runtime().logger();
      build_context.recipe_dir = std::filesystem::path(file).parent_path();
      if (!options.build) {
        // The backbone alone says which resolutions it can take (a windowed ViT: patch x windows).
        if (registry.contains(sdk::ComponentKind::kBackbone, checked.backbone.type)) {
          framework::check_backbone_resolution(registry, stage.document, checked, build_context);
        }
        continue;
      }
      const auto model = framework::build_model(registry, stage.document, checked, build_context);
      for (const auto& line : framework::probe_model(*model, checked.model.resolution)) {
        std::cout << "  [" << stage.name << "] " << line << "\n";
      }
    }
    std::cout << "ok: " << framework::display_path(file) << " (stages: " << stage_names(stages)
              << ")\n";
    return true;
  } catch (const sdk::ConfigError& error) {
    std::cerr << "error: " << checking << error.what() << "\n";
  } catch (const sdk::RegistryError& error) {
    std::cerr << "error: " << checking << error.what() << "\n";
  }
  return false;
}

void add_check(CLI::App& recipe, CliContext& context) {
  auto options = std::make_shared<CheckOptions>();
  CLI::App* check = recipe.add_subcommand(
      "check", "Check recipes strictly: every key, type and plugin name, for every stage");
  check->add_option("files", options->files, "Recipe files")->required()->type_name("FILE");
  check->add_flag("--build", options->build,
                  "Also build the model on the CPU and run it once on a blank image");
  check->add_flag("--allow-missing-plugins", options->allow_missing_plugins,
                  "Warn instead of failing when a component's plugin is not loaded (its options "
                  "are then not checked)");
  options->recipe.add_to(*check);
  check->callback([&context, options] {
    bool all_ok = true;
    for (const auto& file : options->files) all_ok = check_one(context, *options, file) && all_ok;
    if (!all_ok) throw ExitWith{2};
  });
}

void add_show(CLI::App& recipe, CliContext& context) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* show = recipe.add_subcommand(
      "show", "Print the resolved recipe, each value with the file:line (or flag) it came from");
  show->add_option("file", options->file, "Recipe file")->required()->type_name("FILE");
  show->add_option("--stage", options->stage, "Print this stage's complete recipe")
      ->type_name("NAME");
  options->recipe.add_to(*show);
  show->callback([&context, options] {
    framework::LoadedRecipe recipe = load_recipe_with_plugins(context, options->recipe, options->file);
    // Strict, as `recipe check`: an unknown key (a --set typo) is an error rather than printed.
    framework::CheckOptions lenient;
    lenient.allow_missing_plugins = true;
    for (const auto& stage : framework::expand_stages(recipe)) {
      framework::check_recipe(stage.document, context.runtime().registry(), lenient);
    }
    if (options->stage.empty()) {
      framework::print_recipe(std::cout, recipe.document);
      return;
    }
    for (const auto& stage : framework::expand_stages(recipe)) {
      if (stage.name == options->stage) {
        framework::print_recipe(std::cout, stage.document);
        return;
      }
    }
    throw sdk::ConfigError(options->file + ": there is no stage named '" + options->stage +
                           "' (stages: " + stage_names(framework::expand_stages(recipe)) + ").");
  });
}

void print_key_table(const std::vector<sdk::OptionDoc>& keys) {
  std::cout << "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& key : keys) {
    const std::string fallback = key.required ? "required" : "`" + key.default_value + "`";
    std::cout << "| `" << key.key << "` | " << key.type << " | " << fallback << " | " << key.doc
              << " |\n";
  }
}

// The reference of every recipe key as Markdown: the host's tables, then each component's options.
void print_keys(const framework::Registry& registry) {
  for (const auto& section : framework::describe_host_keys()) {
    std::cout << "\n### `" << section.table << "`\n\n";
    print_key_table(section.keys);
  }
  for (sdk::ComponentKind kind : sdk::kAllKinds) {
    for (const auto& component : registry.list(kind)) {
      std::cout << "\n### " << sdk::kind_name(kind) << " `" << component.name << "`";
      if (component.provider) std::cout << " (plugin `" << component.provider->name << "`)";
      std::cout << "\n\n" << component.summary << ".\n\n";
      sdk::ConfigReader reader = sdk::ConfigReader::describing("", component.name);
      registry.read_options(kind, component.name, reader);
      std::vector<sdk::OptionDoc> keys = {
          sdk::OptionDoc{"type", "string", "", "`\"" + component.name + "\"`", true}};
      for (const auto& doc : reader.docs()) keys.push_back(doc);
      print_key_table(keys);
    }
  }
}

// RF-DETR's arguments as tools/convert_rfdetr.py writes them (config.json).
std::string recipe_from_config_json(const std::string& config) {
  std::ifstream in(config);
  if (!in) throw sdk::ConfigError(config + ": cannot be read.");
  nlohmann::json args;
  try {
    args = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw sdk::ConfigError(config + ": not valid JSON (" + error.what() + ").");
  }
  return framework::recipe_from_rfdetr_args(args);
}

void add_from_rfdetr(CLI::App& recipe) {
  auto source = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* command = recipe.add_subcommand(
      "from-rfdetr", "Write the rtseg recipe of an RF-DETR model from its checkpoint (.pth/.pt, read "
                     "without Python) or from a config.json of tools/convert_rfdetr.py");
  command->add_option("checkpoint", *source, "RF-DETR checkpoint (.pth, .pt) or config.json")
      ->required()
      ->type_name("FILE");
  command->add_option("-o,--output", *output, "Write the recipe here instead of stdout")
      ->type_name("FILE");
  command->callback([source, output] {
    const bool json = std::filesystem::path(*source).extension() == ".json";
    const std::string recipe_text =
        "# Made by `rtseg recipe from-rfdetr " + *source + "`.\n" +
        (json ? recipe_from_config_json(*source)
              : framework::recipe_from_rfdetr_checkpoint(framework::rfdetr::read_checkpoint(*source)));
    if (output->empty()) {
      std::cout << recipe_text;
      return;
    }
    std::ofstream out(*output);
    out << recipe_text;
    if (!out) throw sdk::Error("cannot write " + *output);
    std::cout << "wrote " << *output << "\n";
  });
}

void add_keys(CLI::App& recipe, CliContext& context) {
  CLI::App* keys = recipe.add_subcommand(
      "keys", "Print every recipe key (host tables and loaded plugins) as a Markdown reference");
  keys->callback([&context] { print_keys(context.runtime().registry()); });
}

}  // namespace

void add_recipe_command(CLI::App& app, CliContext& context) {
  CLI::App* recipe = app.add_subcommand("recipe", "Check and show TOML recipes");
  recipe->require_subcommand(1);
  add_check(*recipe, context);
  add_show(*recipe, context);
  add_keys(*recipe, context);
  add_from_rfdetr(*recipe);
}

}  // namespace rtseg::cli
