#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/recipe_document.h"

namespace rtseg::framework {

/// One `--set dotted.key=value` from the command line.
struct Override {
  std::string key;   ///< "train.batch"
  std::string text;  ///< "4" as typed; parsed as a TOML value, else taken as a string
  /// A value made by a command-line flag rather than --set (e.g. "--batch 4"); shown in origins.
  std::string flag;
};

/// Parses "train.batch=4". Throws ConfigError when there is no '=' or the key is malformed.
Override parse_override(const std::string& assignment);

struct RecipeRequest {
  std::filesystem::path file;
  /// `--size NAME`: use recipes/variants/NAME.toml instead of the variant the recipe extends
  /// (or as the recipe's base when it extends none).
  std::string size;
  /// Where variants live when the recipe extends none (the shipped recipes/variants).
  std::optional<std::filesystem::path> variants_dir;
  std::vector<Override> overrides;
};

/// A loaded recipe: the merged document, with overrides applied, plus the overrides themselves
/// (pipelines apply them again on top of each stage).
struct LoadedRecipe {
  RecipeDocument document;
  std::vector<Override> overrides;
  std::filesystem::path file;
};

/// Reads a recipe: follows `extends` (a path or list of paths, relative to the extending file;
/// chains and cycles are detected), deep-merges base first, swaps the size variant, and applies
/// the overrides. Throws ConfigError naming the file and line of any problem.
LoadedRecipe load_recipe(const RecipeRequest& request);

/// Applies overrides to a document (values parsed as TOML, else strings).
void apply_overrides(RecipeDocument& document, const std::vector<Override>& overrides);

}  // namespace rtseg::framework
