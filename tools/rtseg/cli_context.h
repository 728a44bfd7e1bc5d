#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"

namespace rtseg::cli {

/// Thrown by a command that has already reported its problems, to end with this exit code.
struct ExitWith {
  int code;
};

/// Options every command shares, and the runtime they create on demand.
struct CliContext {
  std::vector<std::string> plugin_dirs;  ///< --plugin-dir
  std::string log_level = "info";        ///< --log-level
  std::vector<std::string> argv;         ///< the command line as given (rtseg train --nproc reuses it)

  /// Creates the runtime (loading the default plugin folders and --plugin-dir) once.
  framework::Runtime& runtime();

 private:
  std::unique_ptr<framework::Runtime> runtime_;
};

/// Options of commands that read a recipe: --set, --size.
struct RecipeOptions {
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string size;                    ///< --size NAME

  void add_to(CLI::App& command);
  framework::RecipeRequest request(const std::filesystem::path& file) const;
};

/// Loads a recipe and the plugin folders it names.
framework::LoadedRecipe load_recipe_with_plugins(CliContext& context, const RecipeOptions& options,
                                                 const std::filesystem::path& file);

void add_plugins_command(CLI::App& app, CliContext& context);
void add_recipe_command(CLI::App& app, CliContext& context);
void add_version_command(CLI::App& app, CliContext& context);
void add_inspect_command(CLI::App& app, CliContext& context);
void add_data_command(CLI::App& app, CliContext& context);
void add_cocoeval_command(CLI::App& app, CliContext& context);
void add_train_command(CLI::App& app, CliContext& context);
void add_evaluate_commands(CLI::App& app, CliContext& context);
void add_plan_command(CLI::App& app, CliContext& context);

}  // namespace rtseg::cli
