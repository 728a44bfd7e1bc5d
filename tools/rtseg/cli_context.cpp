#include "cli_context.h"

#include "rtseg/framework/logging.h"
#include "rtseg/framework/paths.h"
#include "rtseg/framework/recipe.h"

namespace rtseg::cli {

framework::Runtime& CliContext::runtime() {
  if (!runtime_) {
    framework::RuntimeOptions options;
    options.logger = framework::make_logger("rtseg", log_level);
    for (const auto& dir : plugin_dirs) options.plugin_paths.emplace_back(dir);
    runtime_ = std::make_unique<framework::Runtime>(std::move(options));
  }
  return *runtime_;
}

void RecipeOptions::add_to(CLI::App& command) {
  command.add_option("--set", overrides, "Override a recipe value: --set train.batch=2 (repeatable)")
      ->type_name("KEY=VALUE");
  command.add_option("--size", size,
                     "Use recipes/variants/SIZE.toml as the size variant (nano, small, base, medium, "
                     "large)")
      ->type_name("SIZE");
}

framework::RecipeRequest RecipeOptions::request(const std::filesystem::path& file) const {
  framework::RecipeRequest request;
  request.file = file;
  request.size = size;
  if (auto recipes = framework::shipped_recipes_dir()) request.variants_dir = *recipes / "variants";
  for (const auto& item : overrides) request.overrides.push_back(framework::parse_override(item));
  return request;
}

framework::LoadedRecipe load_recipe_with_plugins(CliContext& context, const RecipeOptions& options,
                                                 const std::filesystem::path& file) {
  framework::LoadedRecipe recipe = framework::load_recipe(options.request(file));
  framework::Runtime& runtime = context.runtime();
  for (const auto& path : framework::recipe_plugin_paths(recipe.document)) {
    runtime.plugins().load_path(path);
  }
  return recipe;
}

}  // namespace rtseg::cli
