#pragma once

#include <vector>

#include <torch/types.h>

#include "levels.h"

namespace rtseg::plugins::lwdetr {

/// One candidate box per memory cell (RF-DETR's gen_encoder_output_proposals).
struct EncoderProposals {
  torch::Tensor memory;  ///< [B, S, C]: the input with padded and invalid cells set to 0
  torch::Tensor boxes;   ///< [B, S, 4] (cx, cy, w, h)
};

/// Each cell of level l proposes a box centred on the cell, in units of the valid (unpadded)
/// area: ((x + 0.5) / valid_w, (y + 0.5) / valid_h), with w = h = 0.05 * 2^l. A box with any
/// coordinate outside (0.01, 0.99), or on a padded cell, is invalid: with `unsigmoid` the boxes
/// are returned as logits and invalid ones are +inf; otherwise they stay in [0, 1] and invalid
/// ones are 0.
EncoderProposals encoder_output_proposals(const torch::Tensor& memory,
                                          const torch::Tensor& padding,
                                          const std::vector<LevelShape>& shapes, bool unsigmoid);

}  // namespace rtseg::plugins::lwdetr
