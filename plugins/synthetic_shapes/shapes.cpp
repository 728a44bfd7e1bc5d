#include "shapes.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace rtseg::plugins::synthetic_shapes {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Vertices (x, y) of a polygon turned by `angle` around the shape's centre.
std::vector<double> place(const Shape& s, const std::vector<std::array<double, 2>>& unit) {
  std::vector<double> xy;
  xy.reserve(unit.size() * 2);
  const double c = std::cos(s.angle), n = std::sin(s.angle);
  for (const auto& [u, v] : unit) {
    const double x = u * s.rx, y = v * s.ry;
    xy.push_back(s.cx + c * x - n * y);
    xy.push_back(s.cy + n * x + c * y);
  }
  return xy;
}

std::vector<std::array<double, 2>> regular(int points, double phase) {
  std::vector<std::array<double, 2>> unit;
  for (int i = 0; i < points; ++i) {
    const double t = phase + 2 * kPi * i / points;
    unit.push_back({std::cos(t), std::sin(t)});
  }
  return unit;
}

}  // namespace

std::vector<ShapeKind> shape_kinds(const std::vector<std::string>& names) {
  std::vector<ShapeKind> kinds;
  for (const auto& name : names) {
    const auto found = std::find(kShapeNames.begin(), kShapeNames.end(), name);
    kinds.push_back(static_cast<ShapeKind>(found - kShapeNames.begin()));
  }
  return kinds;
}

Shape random_shape(std::mt19937_64& rng, std::int64_t width, std::int64_t height, double min_fraction,
                   double max_fraction, const std::vector<ShapeKind>& kinds) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Shape s;
  // With all five kinds in order this draws what the plugin always drew.
  const int last = static_cast<int>(kinds.size()) - 1;
  s.kind = kinds[static_cast<std::size_t>(std::uniform_int_distribution<int>(0, last)(rng))];
  const double side = static_cast<double>(std::min(width, height));
  const double extent = side * (min_fraction + (max_fraction - min_fraction) * unit(rng)) / 2;
  // Ellipses and rectangles get an aspect ratio; the others stay close to round.
  const bool elongated = s.kind == ShapeKind::kEllipse || s.kind == ShapeKind::kRectangle;
  const double aspect = elongated ? 0.5 + unit(rng) : 0.85 + 0.3 * unit(rng);
  s.rx = extent;
  s.ry = extent * aspect;
  s.angle = 2 * kPi * unit(rng);
  s.inner = 0.4 + 0.25 * unit(rng);
  // Centres keep most of the shape inside the image; some objects touch the border.
  const double margin = 0.6 * extent;
  s.cx = margin + (width - 2 * margin) * unit(rng);
  s.cy = margin + (height - 2 * margin) * unit(rng);
  return s;
}

std::vector<double> outline(const Shape& s) {
  switch (s.kind) {
    case ShapeKind::kEllipse: return place(s, regular(40, 0));
    case ShapeKind::kRectangle: return place(s, {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}});
    case ShapeKind::kTriangle: return place(s, regular(3, -kPi / 2));
    case ShapeKind::kStar: {
      std::vector<std::array<double, 2>> unit;
      for (int i = 0; i < 10; ++i) {
        const double t = -kPi / 2 + kPi * i / 5;
        const double r = i % 2 == 0 ? 1.0 : 0.45;
        unit.push_back({r * std::cos(t), r * std::sin(t)});
      }
      return place(s, unit);
    }
    case ShapeKind::kRing: return {};
  }
  return {};
}

sdk::RunLengths full_mask(const Shape& s, std::int64_t width, std::int64_t height) {
  if (s.kind != ShapeKind::kRing) return sdk::masks::from_polygon(outline(s), height, width);
  // Annulus between inner * r and r (r = rx; rings stay round), tested at pixel centres.
  const auto options = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor ys = at::arange(height, options).add_(0.5 - s.cy).view({height, 1});
  const at::Tensor xs = at::arange(width, options).add_(0.5 - s.cx).view({1, width});
  const at::Tensor distance = (ys * ys + xs * xs).sqrt_();
  const at::Tensor mask = distance.le(s.rx).logical_and_(distance.ge(s.rx * s.inner));
  return sdk::masks::encode(mask);
}

}  // namespace rtseg::plugins::synthetic_shapes
