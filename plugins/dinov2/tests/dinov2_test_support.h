#pragma once

// Helpers shared by the dinov2 plugin tests: tiny configurations, a build context, and the
// Python interpreter used to compute reference values with PyTorch / RF-DETR's own code.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "dinov2_backbone.h"
#include "options.h"
#include "rtseg/sdk/build_context.h"

namespace rtseg::plugins::dinov2::testing {

/// hidden 32, 2 heads, 3 layers, patch 8, 2x2 windows, 4x4 position grid, taps [1, 2, 3], P4.
inline Dinov2Options tiny_options() {
  Dinov2Options o;
  o.hidden_size = 32;
  o.num_heads = 2;
  o.num_layers = 3;
  o.patch_size = 8;
  o.num_windows = 2;
  o.positional_encoding_size = 4;
  o.out_feature_indexes = {1, 2, 3};
  o.projector_scale = {"P4"};
  o.projector_blocks = 1;
  return o;
}

inline sdk::BuildContext context_with_hidden_dim(std::int64_t hidden_dim) {
  sdk::BuildContext context;
  context.model.hidden_dim = hidden_dim;
  return context;
}

/// A Python 3 with torch and numpy ("/usr/bin/python3" first: Debian's python3-torch), or empty.
inline std::string python_with_torch() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe = std::string(candidate) + " -c 'import torch, numpy' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return candidate;
  }
  return {};
}

/// RF-DETR 1.4.1's backbone sources, unpacked beside the checkout (skip when absent).
inline std::filesystem::path rfdetr_backbone_sources() {
  return std::filesystem::path(RTSEG_SOURCE_DIR) / ".." / "rfdetr_src" / "rfdetr" / "models" /
         "backbone";
}

inline std::filesystem::path plugin_test_dir() {
  return std::filesystem::path(RTSEG_SOURCE_DIR) / "plugins" / "dinov2" / "tests";
}

}  // namespace rtseg::plugins::dinov2::testing
