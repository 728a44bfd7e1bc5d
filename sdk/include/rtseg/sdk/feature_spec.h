#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rtseg::sdk {

/// One feature map a component publishes: downstream components size themselves from these, so
/// recipes never repeat channel counts or strides.
struct FeatureSpec {
  std::string name;          ///< e.g. "p4"
  std::int64_t channels = 0;
  std::int64_t stride = 0;   ///< input pixels per feature-map cell
};

/// Feature maps in the order forward() returns them (finest first).
using FeatureSpecs = std::vector<FeatureSpec>;

}  // namespace rtseg::sdk
