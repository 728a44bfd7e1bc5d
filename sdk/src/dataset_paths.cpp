#include "rtseg/sdk/dataset_paths.h"

namespace rtseg::sdk {

bool path_is_within(const std::filesystem::path& file, const std::filesystem::path& folder) {
  const std::filesystem::path inner = std::filesystem::absolute(file).lexically_normal();
  const std::filesystem::path outer = std::filesystem::absolute(folder).lexically_normal();
  const std::filesystem::path relative = inner.lexically_relative(outer);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace rtseg::sdk
