#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/masks.h"

namespace rtseg::plugins::synthetic_shapes {

/// The classes, in label order.
enum class ShapeKind { kEllipse, kRectangle, kTriangle, kStar, kRing };
inline const std::vector<std::string> kShapeNames = {"ellipse", "rectangle", "triangle", "star", "ring"};

/// One shape: where it is, how big, how it is turned.
struct Shape {
  ShapeKind kind = ShapeKind::kEllipse;
  double cx = 0, cy = 0;       ///< centre in pixels
  double rx = 0, ry = 0;       ///< half extents in pixels
  double angle = 0;            ///< rotation in radians
  double inner = 0.5;          ///< ring: inner radius as a fraction of the outer one
};

/// The kinds `names` (from kShapeNames) name, in their order.
std::vector<ShapeKind> shape_kinds(const std::vector<std::string>& names);

/// Draws a random shape of one of `kinds` (not empty) inside a width x height image.
Shape random_shape(std::mt19937_64& rng, std::int64_t width, std::int64_t height, double min_fraction,
                   double max_fraction, const std::vector<ShapeKind>& kinds);

/// The outline as a COCO polygon (x0, y0, x1, y1, ...). Empty for a ring (it has a hole, which a
/// COCO polygon cannot express).
std::vector<double> outline(const Shape& shape);

/// The shape's full (unoccluded) mask at the image size: the outline rasterised exactly as COCO
/// does (so polygon annotations and pixels agree), or for a ring the annulus.
sdk::RunLengths full_mask(const Shape& shape, std::int64_t width, std::int64_t height);

}  // namespace rtseg::plugins::synthetic_shapes
