#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace rtseg::plugins::lwdetr {

/// Height and width of one feature level.
struct LevelShape {
  std::int64_t height = 0;
  std::int64_t width = 0;
};

/// Feature levels laid end to end, as the decoder's memory.
struct FlatLevels {
  torch::Tensor memory;             ///< [B, S, C], S = sum of h * w, levels in order, row-major
  torch::Tensor padding;            ///< [B, S] bool, true = padding
  std::vector<LevelShape> shapes;   ///< per level
  std::vector<std::int64_t> starts; ///< index in S where each level begins
  torch::Tensor valid_ratios;       ///< [B, L, 2] (valid width / W, valid height / H), memory dtype
};

/// Fraction of each map that is not padding, measured along the first column (height) and the
/// first row (width) as RF-DETR's get_valid_ratio does: [B, h, w] bool -> [B, 2] float (w, h).
torch::Tensor valid_ratio(const torch::Tensor& mask);

/// features: [B, C, h_l, w_l] per level; masks: [B, h_l, w_l] bool per level.
FlatLevels flatten_levels(const std::vector<torch::Tensor>& features,
                          const std::vector<torch::Tensor>& masks);

}  // namespace rtseg::plugins::lwdetr
