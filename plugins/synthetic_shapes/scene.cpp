#include "scene.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <ATen/ATen.h>

namespace rtseg::plugins::synthetic_shapes {
namespace {

// An object must keep at least this share of its pixels in view, and may not hide more than
// this share of an earlier object: heavily hidden objects make ambiguous ground truth.
constexpr double kMinVisibleShare = 0.6;
constexpr int kPlacementAttempts = 12;

std::array<float, 3> random_color(std::mt19937_64& rng) {
  std::uniform_real_distribution<float> channel(0.05f, 0.95f);
  return {channel(rng), channel(rng), channel(rng)};
}

float color_distance(const std::array<float, 3>& a, const std::array<float, 3>& b) {
  return std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]);
}

// Smooth noise: a coarse random grid upsampled bilinearly, in [-1, 1], [H, W].
at::Tensor smooth_noise(std::uint64_t seed, std::int64_t height, std::int64_t width, std::int64_t cells) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  at::Tensor grid = at::empty({1, 1, cells, cells});
  float* data = grid.data_ptr<float>();
  for (std::int64_t i = 0; i < cells * cells; ++i) data[i] = value(rng);
  return at::upsample_bilinear2d(grid, {height, width}, /*align_corners=*/false).view({height, width});
}

// The object's surface pattern, a factor around 1, [H, W].
at::Tensor texture(const Paint& paint, std::int64_t height, std::int64_t width) {
  if (paint.texture == 0) return at::ones({height, width});
  const at::Tensor ys = at::arange(height, at::kFloat).view({height, 1});
  const at::Tensor xs = at::arange(width, at::kFloat).view({1, width});
  if (paint.texture == 1) {
    const at::Tensor along = xs * std::cos(paint.angle) + ys * std::sin(paint.angle);
    return 1.0 + 0.25 * at::sin(along * (2 * M_PI / paint.period));
  }
  if (paint.texture == 2) {
    const at::Tensor cell = at::floor(xs / paint.period) + at::floor(ys / paint.period);
    return 0.8 + 0.4 * at::remainder(cell, 2);
  }
  return 1.0 + 0.2 * smooth_noise(paint.noise_seed, height, width, std::max<std::int64_t>(4, width / 6));
}

bool overlaps_too_much(const sdk::RunLengths& candidate, const std::vector<SceneObject>& objects) {
  const double area = static_cast<double>(sdk::masks::area(candidate));
  if (area < 16) return true;  // too small to be worth an annotation
  for (const auto& object : objects) {
    const double shared = static_cast<double>(
        sdk::masks::area(sdk::masks::merge({candidate, object.visible}, /*intersect=*/true)));
    const double visible = static_cast<double>(sdk::masks::area(object.visible));
    if (shared > (1.0 - kMinVisibleShare) * visible) return true;
  }
  return false;
}

}  // namespace

Scene make_scene(std::uint64_t seed, const SyntheticOptions& options) {
  std::mt19937_64 rng(seed);
  Scene scene;
  scene.width = std::uniform_int_distribution<std::int64_t>(options.min_size, options.max_size)(rng);
  scene.height = std::uniform_int_distribution<std::int64_t>(options.min_size, options.max_size)(rng);
  scene.background = {random_color(rng), random_color(rng)};
  scene.gradient_angle = std::uniform_real_distribution<double>(0, 2 * M_PI)(rng);
  scene.noise_seed = rng();

  const std::vector<ShapeKind> kinds = shape_kinds(options.shapes);
  const std::int64_t wanted =
      std::uniform_int_distribution<std::int64_t>(options.min_objects, options.max_objects)(rng);
  for (std::int64_t n = 0; n < wanted; ++n) {
    for (int attempt = 0; attempt < kPlacementAttempts; ++attempt) {
      const Shape shape = random_shape(rng, scene.width, scene.height, options.min_object_fraction,
                                       options.max_object_fraction, kinds);
      Paint paint;
      do {
        paint.color = random_color(rng);
      } while (color_distance(paint.color, scene.background[0]) < 0.35f);
      paint.texture = std::uniform_int_distribution<int>(0, 3)(rng);
      paint.period = std::uniform_real_distribution<double>(4, 14)(rng);
      paint.angle = std::uniform_real_distribution<double>(0, M_PI)(rng);
      paint.noise_seed = rng();
      const sdk::RunLengths mask = full_mask(shape, scene.width, scene.height);
      if (overlaps_too_much(mask, scene.objects)) continue;
      // The new object is drawn on top: earlier objects lose what it covers.
      const sdk::RunLengths uncovered = sdk::masks::encode(sdk::masks::decode(mask).logical_not());
      for (auto& object : scene.objects) {
        const sdk::RunLengths before = object.visible;
        object.visible = sdk::masks::merge({object.visible, uncovered}, /*intersect=*/true);
        object.occluded = object.occluded || !(object.visible == before);
      }
      const auto label = std::find(kinds.begin(), kinds.end(), shape.kind) - kinds.begin();
      scene.objects.push_back(SceneObject{shape, label, paint, mask, false});
      break;
    }
  }
  return scene;
}

at::Tensor render(const Scene& scene) {
  const std::int64_t h = scene.height, w = scene.width;
  const at::Tensor ys = at::arange(h, at::kFloat).view({h, 1}) / static_cast<float>(h);
  const at::Tensor xs = at::arange(w, at::kFloat).view({1, w}) / static_cast<float>(w);
  const at::Tensor t = (xs * std::cos(scene.gradient_angle) + ys * std::sin(scene.gradient_angle))
                           .sub(std::min(0.0, std::cos(scene.gradient_angle)) +
                                std::min(0.0, std::sin(scene.gradient_angle)))
                           .div(std::abs(std::cos(scene.gradient_angle)) + std::abs(std::sin(scene.gradient_angle)));
  const at::Tensor from = at::tensor(std::vector<float>(scene.background[0].begin(), scene.background[0].end())).view({3, 1, 1});
  const at::Tensor to = at::tensor(std::vector<float>(scene.background[1].begin(), scene.background[1].end())).view({3, 1, 1});
  at::Tensor image = from + (to - from) * t.unsqueeze(0);
  image = image + 0.08 * smooth_noise(scene.noise_seed, h, w, 6).unsqueeze(0);

  for (const auto& object : scene.objects) {
    const at::Tensor mask = sdk::masks::decode(object.visible).to(at::kBool).unsqueeze(0);
    const at::Tensor color =
        at::tensor(std::vector<float>(object.paint.color.begin(), object.paint.color.end())).view({3, 1, 1});
    const at::Tensor surface = color * texture(object.paint, h, w).unsqueeze(0);
    image = at::where(mask, surface, image);
  }
  // Sensor noise, deterministic per scene.
  image = image + 0.02 * smooth_noise(scene.noise_seed ^ 0x9e3779b97f4a7c15ULL, h, w, std::max<std::int64_t>(8, w / 2));
  return image.clamp(0, 1).mul(255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
}

std::vector<sdk::Annotation> annotations_of(const Scene& scene, std::int64_t first_id) {
  std::vector<sdk::Annotation> annotations;
  for (std::size_t i = 0; i < scene.objects.size(); ++i) {
    const SceneObject& object = scene.objects[i];
    sdk::Annotation annotation;
    annotation.id = first_id + static_cast<std::int64_t>(i);
    annotation.label = object.label;
    annotation.area = static_cast<double>(sdk::masks::area(object.visible));
    annotation.box_xywh = sdk::masks::bbox(object.visible);
    if (!object.occluded && object.shape.kind != ShapeKind::kRing) {
      annotation.segmentation.polygons = {outline(object.shape)};
    } else {
      annotation.segmentation.rle = object.visible;
    }
    annotations.push_back(std::move(annotation));
  }
  return annotations;
}

}  // namespace rtseg::plugins::synthetic_shapes
