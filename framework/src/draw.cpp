#include "rtseg/framework/draw.h"

#include "rtseg/framework/bitmap_font.h"

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

void fill_rect(torch::Tensor& image, double x0, double y0, double x1, double y1, Color color) {
  const std::int64_t h = image.size(0), w = image.size(1);
  const std::int64_t left = std::clamp<std::int64_t>(std::lround(x0), 0, w);
  const std::int64_t right = std::clamp<std::int64_t>(std::lround(x1), 0, w);
  const std::int64_t top = std::clamp<std::int64_t>(std::lround(y0), 0, h);
  const std::int64_t bottom = std::clamp<std::int64_t>(std::lround(y1), 0, h);
  if (right <= left || bottom <= top) return;
  const torch::Tensor rgb = torch::tensor({color[0], color[1], color[2]}, torch::kByte).to(image.device());
  image.slice(0, top, bottom).slice(1, left, right).copy_(rgb.expand({bottom - top, right - left, 3}));
}

Color text_color_on(Color background) {
  // Rec. 601 luma: light backgrounds get black text.
  const double luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2];
  return luma > 140 ? Color{0, 0, 0} : Color{255, 255, 255};
}

std::int64_t draw_label(torch::Tensor& image, std::int64_t x, std::int64_t y, std::string_view text,
                        Color background, int scale, int padding) {
  scale = std::max(scale, 1);
  const std::int64_t pad = std::max(padding, 0) * static_cast<std::int64_t>(scale);
  const TextSize size = text_size(text, scale);
  const std::int64_t box_w = size.width + 2 * pad, box_h = size.height + 2 * pad;
  const std::int64_t h = image.size(0), w = image.size(1);
  // Keep the label inside the picture where it fits; a label larger than the picture is clipped.
  x = std::max<std::int64_t>(0, std::min(x, w - box_w));
  y = std::max<std::int64_t>(0, std::min(y, h - box_h));
  fill_rect(image, static_cast<double>(x), static_cast<double>(y), static_cast<double>(x + box_w),
            static_cast<double>(y + box_h), background);
  draw_text(image, x + pad, y + pad, text, text_color_on(background), scale);
  return y + box_h;
}

}  // namespace rtseg::framework
