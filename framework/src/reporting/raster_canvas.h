#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>

#include "rtseg/framework/bitmap_font.h"
#include "rtseg/framework/draw.h"

namespace rtseg::framework::reporting {

/// An RGB picture in host memory with the few drawing operations plots need; every operation
/// clips to the picture. Text goes through the embedded bitmap font.
class RasterCanvas {
 public:
  RasterCanvas(std::int64_t width, std::int64_t height, Color background)
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width * height * 3)) {
    fill_rect(0, 0, width, height, background);
  }

  std::int64_t width() const { return width_; }
  std::int64_t height() const { return height_; }

  void set(std::int64_t x, std::int64_t y, Color color) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::uint8_t* pixel = &pixels_[static_cast<std::size_t>((y * width_ + x) * 3)];
    pixel[0] = color[0], pixel[1] = color[1], pixel[2] = color[2];
  }
  /// Fills [x0, x1) x [y0, y1).
  void fill_rect(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, Color color) {
    for (std::int64_t y = std::max<std::int64_t>(y0, 0); y < std::min(y1, height_); ++y) {
      for (std::int64_t x = std::max<std::int64_t>(x0, 0); x < std::min(x1, width_); ++x) set(x, y, color);
    }
  }
  /// A straight line (Bresenham) drawn with a square pen `thickness` pixels wide.
  void line(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, Color color, int thickness = 1) {
    const std::int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const std::int64_t sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const int before = (thickness - 1) / 2, after = thickness - before;
    for (std::int64_t error = dx + dy;;) {
      fill_rect(x0 - before, y0 - before, x0 + after, y0 + after, color);
      if (x0 == x1 && y0 == y1) return;
      const std::int64_t twice = 2 * error;
      if (twice >= dy) error += dy, x0 += sx;
      if (twice <= dx) error += dx, y0 += sy;
    }
  }
  void text(std::int64_t x, std::int64_t y, std::string_view text, Color color) {
    at::Tensor view = tensor();  // shares the pixels: draw_text writes into them
    draw_text(view, x, y, text, color);
  }

  /// The pixels as uint8 [H, W, 3], sharing this canvas's memory.
  at::Tensor tensor() { return at::from_blob(pixels_.data(), {height_, width_, 3}, at::kByte); }

 private:
  std::int64_t width_, height_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace rtseg::framework::reporting
