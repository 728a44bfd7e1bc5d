#pragma once

#include <array>
#include <cstdint>

#include <torch/types.h>

namespace rtseg::framework {

using Color = std::array<std::uint8_t, 3>;

/// A distinct, saturated colour per class (cycles after a few dozen).
Color class_color(std::int64_t label);

/// Blends `color` into an RGB uint8 [H, W, 3] image where `mask` ([H, W] bool) is set.
void draw_mask(torch::Tensor& image, const torch::Tensor& mask, Color color, float alpha = 0.5f);

/// A rectangle outline (x0, y0, x1, y1 in pixels), clipped to the image.
void draw_box(torch::Tensor& image, double x0, double y0, double x1, double y1, Color color,
              int thickness = 2);

}  // namespace rtseg::framework
