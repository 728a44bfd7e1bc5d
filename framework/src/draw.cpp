#include "rtseg/framework/draw.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

namespace rtseg::framework {

Color class_color(std::int64_t label) {
  // Hues spaced by the golden angle, full saturation, alternating brightness.
  const double hue = std::fmod(static_cast<double>(label) * 137.508, 360.0) / 60.0;
  const double value = label % 2 == 0 ? 1.0 : 0.8;
  const double f = hue - std::floor(hue);
  const double p = 0, q = value * (1 - f), t = value * f;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(hue) % 6) {
    case 0: r = value, g = t, b = p; break;
    case 1: r = q, g = value, b = p; break;
    case 2: r = p, g = value, b = t; break;
    case 3: r = p, g = q, b = value; break;
    case 4: r = t, g = p, b = value; break;
    default: r = value, g = p, b = q; break;
  }
  return {static_cast<std::uint8_t>(r * 255), static_cast<std::uint8_t>(g * 255),
          static_cast<std::uint8_t>(b * 255)};
}

void draw_mask(torch::Tensor& image, const torch::Tensor& mask, Color color, float alpha) {
  const torch::Tensor tint = torch::tensor({color[0], color[1], color[2]}, torch::kFloat).view({1, 1, 3});
  const torch::Tensor blended = (image.to(torch::kFloat) * (1 - alpha) + tint * alpha).round().to(torch::kByte);
  image = torch::where(mask.unsqueeze(2), blended, image);
}

void draw_box(torch::Tensor& image, double x0, double y0, double x1, double y1, Color color,
              int thickness) {
  const std::int64_t h = image.size(0), w = image.size(1);
  const auto clamp_x = [w](double v) { return std::clamp<std::int64_t>(std::lround(v), 0, w); };
  const auto clamp_y = [h](double v) { return std::clamp<std::int64_t>(std::lround(v), 0, h); };
  const std::int64_t left = clamp_x(x0), right = clamp_x(x1), top = clamp_y(y0), bottom = clamp_y(y1);
  if (right <= left || bottom <= top) return;
  const torch::Tensor rgb = torch::tensor({color[0], color[1], color[2]}, torch::kByte);
  const std::int64_t t = std::max(1, thickness);
  image.slice(0, top, std::min(bottom, top + t)).slice(1, left, right).copy_(rgb.expand({std::min(bottom, top + t) - top, right - left, 3}));
  image.slice(0, std::max(top, bottom - t), bottom).slice(1, left, right).copy_(rgb.expand({bottom - std::max(top, bottom - t), right - left, 3}));
  image.slice(0, top, bottom).slice(1, left, std::min(right, left + t)).copy_(rgb.expand({bottom - top, std::min(right, left + t) - left, 3}));
  image.slice(0, top, bottom).slice(1, std::max(left, right - t), right).copy_(rgb.expand({bottom - top, right - std::max(left, right - t), 3}));
}

}  // namespace rtseg::framework
