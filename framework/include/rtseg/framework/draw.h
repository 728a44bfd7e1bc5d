#pragma once

#include <array>
#include <cstdint>

#include <string_view>

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

/// Fills [x0, x1) x [y0, y1) (pixels, rounded, clipped to the image) with `color`.
void fill_rect(torch::Tensor& image, double x0, double y0, double x1, double y1, Color color);

/// Black or white, whichever reads better on `background` (by its luminance).
Color text_color_on(Color background);

/// A text label on a filled `background` box whose top-left corner is at (x, y), drawn with the
/// bitmap font at `scale` with `padding` pixels (times scale) around the text. The box is moved
/// inside the image where it would stick out (when it fits). Returns the box's bottom edge.
std::int64_t draw_label(torch::Tensor& image, std::int64_t x, std::int64_t y, std::string_view text,
                        Color background, int scale = 1, int padding = 1);

}  // namespace rtseg::framework
