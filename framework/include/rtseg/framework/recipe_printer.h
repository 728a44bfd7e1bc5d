#pragma once

#include <ostream>

#include "rtseg/framework/recipe_document.h"

namespace rtseg::framework {

/// Writes a recipe as TOML, each value followed by a comment saying where it came from
/// (file:line:col, or the command line). The output parses back to the same recipe.
void print_recipe(std::ostream& out, const RecipeDocument& document);

}  // namespace rtseg::framework
