#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/model_options.h"
#include "rtseg/framework/recipe_document.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/train_options.h"
#include "rtseg/sdk/config_reader.h"
#include "rtseg/sdk/kinds.h"

namespace rtseg::framework {

class Registry;

/// A component section of a recipe: which plugin provides it and where the section is.
struct ComponentRef {
  sdk::ComponentKind kind = sdk::ComponentKind::kBackbone;
  std::string type;  ///< registry name, from the section's `type` key
  std::string path;  ///< dotted recipe path of the section, e.g. "model.backbone"
};

/// One stage's recipe after checking every key against the host and the plugins.
struct CheckedRecipe {
  std::string description;
  ModelOptions model;
  TrainOptions train;
  ComponentRef backbone;
  ComponentRef decoder;
  std::optional<ComponentRef> seg_head;   ///< absent: a detector
  std::optional<ComponentRef> dataset;    ///< [data]
  std::optional<ComponentRef> scheduler;  ///< [train.scheduler]; absent: constant learning rate
  /// With CheckOptions::allow_missing_plugins: one line per component whose plugin is not loaded.
  std::vector<std::string> unchecked;
};

struct CheckOptions {
  /// Accept components whose plugin is not loaded (their keys are left unchecked and listed in
  /// CheckedRecipe::unchecked) instead of failing. For linting recipes on a machine that lacks
  /// some plugins.
  bool allow_missing_plugins = false;
};

/// Checks a complete (single-stage) recipe: the host's own keys strictly, and every component
/// section with the options reader of the plugin its `type` names. Throws ConfigError or
/// RegistryError with the file, line and column of the first problem.
CheckedRecipe check_recipe(const RecipeDocument& document, const Registry& registry,
                           const CheckOptions& options = {});

/// The first half of check_recipe: the host's own keys only. Component sections must name a
/// `type`, but their other keys are left to their plugins (which need not be loaded).
CheckedRecipe check_host_keys(const RecipeDocument& document);

/// One stage of a pipeline.
struct Stage {
  std::string name;
  std::string description;
  std::string init_from;           ///< "", an earlier stage's name, or a run folder
  bool init_from_stage = false;    ///< init_from names an earlier stage
  std::vector<std::string> freeze; ///< components or parameter-name prefixes kept fixed
  RecipeDocument document;         ///< the stage's complete recipe
};

/// Expands `[[stage]]` entries into complete recipes: the recipe without `stage`, then the
/// stage's own sections, then the command-line overrides. A recipe without stages is one stage
/// named "train". Checks names (unique), `init_from` (an earlier stage or a path) and keys.
std::vector<Stage> expand_stages(const LoadedRecipe& recipe);

/// The documented keys of one recipe table, for `rtseg recipe keys` and docs/recipes.md.
struct KeySection {
  std::string table;  ///< "[model]", "[train.loss]", "[[stage]]"
  std::vector<sdk::OptionDoc> keys;
};

/// Every key the host itself reads, by table (component options come from their plugins).
std::vector<KeySection> describe_host_keys();

/// Plugin folders named by the recipe's [plugins] paths, resolved against the file that set them.
std::vector<std::filesystem::path> recipe_plugin_paths(const RecipeDocument& document);

}  // namespace rtseg::framework
