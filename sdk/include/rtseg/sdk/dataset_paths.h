#pragma once

#include <filesystem>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

/// Whether `file` lies inside `folder` by its path alone (`..` steps resolved, relative paths taken
/// from the current folder, symbolic links not followed). Datasets check what their annotation
/// files name before opening it, so that a downloaded dataset cannot make rtseg read any file on
/// the machine (an absolute path, or `../../` out of the dataset).
RTSEG_SDK_API bool path_is_within(const std::filesystem::path& file, const std::filesystem::path& folder);

}  // namespace rtseg::sdk
