#pragma once

#include <cstdint>

#include <torch/types.h>

namespace rtseg::plugins::lwdetr {

/// Sine/cosine embedding of normalised positions (RF-DETR's gen_sineembed_for_position).
///
/// positions: [B, Q, 2] (x, y) or [B, Q, 4] (x, y, w, h), in [0, 1].
/// Each coordinate c becomes `num_feats` values: c * 2pi / 10000^(2 * floor(i / 2) / num_feats),
/// sine at even i and cosine at odd i, interleaved. The result concatenates them in the order
/// y, x (, w, h): [B, Q, 2 * num_feats] or [B, Q, 4 * num_feats].
torch::Tensor sine_position_embedding(const torch::Tensor& positions, std::int64_t num_feats);

}  // namespace rtseg::plugins::lwdetr
