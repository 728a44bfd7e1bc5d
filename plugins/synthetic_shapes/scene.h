#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "options.h"
#include "rtseg/sdk/components/dataset.h"
#include "shapes.h"

namespace rtseg::plugins::synthetic_shapes {

/// How an object's surface looks.
struct Paint {
  std::array<float, 3> color{};   ///< RGB in [0, 1]
  int texture = 0;                ///< 0 plain, 1 stripes, 2 checks, 3 speckles
  double period = 8;              ///< texture period in pixels
  double angle = 0;               ///< stripe direction
  std::uint64_t noise_seed = 0;
};

struct SceneObject {
  Shape shape;
  std::int64_t label = 0;   ///< the shape's class: its kind's index in the options' shapes
  Paint paint;
  sdk::RunLengths visible;  ///< what is left after the objects drawn on top of it
  bool occluded = false;    ///< some of it is covered (its annotation is then an RLE)
};

/// One image: background, objects back to front. A pure function of the seed and the options.
struct Scene {
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::array<std::array<float, 3>, 2> background{};  ///< gradient end colours
  double gradient_angle = 0;
  std::uint64_t noise_seed = 0;
  std::vector<SceneObject> objects;
};

Scene make_scene(std::uint64_t seed, const SyntheticOptions& options);

/// The image, uint8 [H, W, 3].
at::Tensor render(const Scene& scene);

/// COCO-style annotations: a polygon for an object fully in view (and not a ring), the visible
/// mask as RLE otherwise; box and area from the visible mask.
std::vector<sdk::Annotation> annotations_of(const Scene& scene, std::int64_t first_id);

}  // namespace rtseg::plugins::synthetic_shapes
