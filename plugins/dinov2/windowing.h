#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace rtseg::plugins::dinov2 {

/// Patch tokens [B, Hp*Wp, C] (row-major grid) -> [B*w*w, (Hp/w)*(Wp/w), C], windows ordered
/// (image, window row, window column), tokens row-major inside a window. With w = 1 the tokens
/// are returned unchanged.
///
/// RF-DETR 1.4.1 uses the height's patches-per-window for both axes, which only works for square
/// inputs; this uses each axis' own count (identical results for square inputs).
at::Tensor window_tokens(const at::Tensor& tokens, std::int64_t grid_h, std::int64_t grid_w,
                         std::int64_t windows);

/// Inverse of window_tokens, straight to a feature map: [B*w*w, (Hp/w)*(Wp/w), C] ->
/// [B, C, Hp, Wp] (contiguous).
at::Tensor unwindow_to_map(const at::Tensor& tokens, std::int64_t grid_h, std::int64_t grid_w,
                           std::int64_t windows);

}  // namespace rtseg::plugins::dinov2
