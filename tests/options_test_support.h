#pragma once

// Reading a component's options from TOML text in tests, with real file positions in errors.

#include <string>

#include "rtseg/framework/recipe_document.h"
#include "rtseg/sdk/config_reader.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::testing {

/// Reads `toml` as the table `section` (dotted, e.g. "model.backbone") of a file named `file`:
/// the text starts on line 2, after the "[section]" header. Unread keys are errors (finish()).
template <class Options>
Options read_section(const std::string& toml, const std::string& section, const std::string& owner,
                     Options (*read_options)(sdk::ConfigReader&), const std::string& file = "recipe.toml") {
  const auto document = framework::RecipeDocument::parse_text("[" + section + "]\n" + toml, file);
  sdk::ConfigReader reader(document.root().at_path(section).as_table(), section, owner, document.origin_lookup());
  Options options = read_options(reader);
  reader.finish();
  return options;
}

/// The ConfigError `read` throws, or "(no error)".
template <class Read>
std::string config_error_of(Read&& read) {
  try {
    read();
  } catch (const sdk::ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace rtseg::testing
