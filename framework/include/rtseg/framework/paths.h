#pragma once

#include <filesystem>
#include <optional>

namespace rtseg::framework {

/// Folder of the running executable.
std::filesystem::path executable_dir();

/// The recipes shipped with rtseg: <exe>/../share/rtseg/recipes when installed, else the source
/// tree's recipes/ folder this binary was built from. nullopt when neither exists.
std::optional<std::filesystem::path> shipped_recipes_dir();

/// How a path is shown in messages: relative to the working directory when inside it.
std::string display_path(const std::filesystem::path& path);

}  // namespace rtseg::framework
