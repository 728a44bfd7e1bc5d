#include "rtseg/framework/paths.h"

#include <boost/dll/runtime_symbol_info.hpp>

namespace rtseg::framework {

std::filesystem::path executable_dir() {
  std::error_code error;
  std::filesystem::path exe = boost::dll::program_location(error);
  return error ? std::filesystem::current_path() : exe.parent_path();
}

std::optional<std::filesystem::path> shipped_recipes_dir() {
  std::error_code error;
  const std::filesystem::path installed = executable_dir() / ".." / "share" / "rtseg" / "recipes";
  if (std::filesystem::is_directory(installed, error)) return installed.lexically_normal();
#ifdef RTSEG_SOURCE_RECIPES_DIR
  const std::filesystem::path source = RTSEG_SOURCE_RECIPES_DIR;
  if (std::filesystem::is_directory(source, error)) return source;
#endif
  return std::nullopt;
}

std::string display_path(const std::filesystem::path& path) {
  std::error_code error;
  const std::filesystem::path cwd = std::filesystem::current_path(error);
  if (error || path.is_relative()) return path.lexically_normal().string();
  const std::filesystem::path relative = path.lexically_normal().lexically_relative(cwd);
  if (relative.empty() || *relative.begin() == "..") return path.lexically_normal().string();
  return relative.string();
}

}  // namespace rtseg::framework
