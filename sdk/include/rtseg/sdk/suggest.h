#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rtseg/sdk/export.h"

/// "Did you mean ...?" for misspelt keys and component names.
namespace rtseg::sdk {

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
RTSEG_SDK_API std::optional<std::string> nearest_match(std::string_view word,
                                                       const std::vector<std::string>& candidates);

/// " Did you mean 'x'?" or "" when nothing is close.
RTSEG_SDK_API std::string did_you_mean(std::string_view word,
                                       const std::vector<std::string>& candidates);

/// "a, b, c" (or "(none)").
RTSEG_SDK_API std::string join_names(const std::vector<std::string>& names);

}  // namespace rtseg::sdk
