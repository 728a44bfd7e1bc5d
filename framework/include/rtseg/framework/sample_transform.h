#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include <torch/types.h>

#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework {

/// ImageNet statistics the backbones were trained with.
inline constexpr std::array<float, 3> kImageMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageStd = {0.229f, 0.224f, 0.225f};

/// What the model learns from one image, in the transformed image's frame.
struct Targets {
  torch::Tensor labels;  ///< [N] int64
  torch::Tensor boxes;   ///< [N, 4] float, (cx, cy, w, h) / image side
  torch::Tensor masks;   ///< [N, H, W] bool at the transformed image's size; undefined without masks
  sdk::ImageRecord record;  ///< the source image (id, file, original size)
};

/// One transformed image.
struct TrainingSample {
  torch::Tensor image;  ///< [3, H, W] float, normalised
  Targets targets;
};

/// Where the output image comes from: the source (optionally mirrored) cropped to
/// [x0, x1) x [y0, y1) and resized to out_width x out_height.
struct Geometry {
  bool flip = false;
  std::int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  ///< crop in the (mirrored) source, pixels
  std::int64_t out_width = 0, out_height = 0;
};

/// The square sizes multi-scale training draws from (RF-DETR's compute_multi_scale_scales):
/// multiples of patch_size x num_windows around `resolution` -- offsets -5..+5 when `expanded`,
/// else -3..+4 -- keeping those of at least two such units. Ascending.
std::vector<std::int64_t> multi_scale_sizes(std::int64_t resolution, bool expanded,
                                            std::int64_t patch_size, std::int64_t num_windows);

/// The evaluation geometry: the whole image squeezed to size x size (RF-DETR's SquareResize).
Geometry square_geometry(std::int64_t width, std::int64_t height, std::int64_t size);

/// RF-DETR's training augmentation, drawn from `rng`: mirror with p = 0.5; then with p = 0.5 the
/// whole image, otherwise the shorter side resized to 400, 500 or 600 and a random crop of
/// 384..600 pixels a side from it; the result squeezed to size x size.
Geometry random_geometry(std::mt19937_64& rng, std::int64_t width, std::int64_t height,
                         std::int64_t size);

/// Applies `geometry` to an image and its annotations. Crowd annotations are left out (they only
/// matter to evaluation), boxes are clamped to the crop and empty ones dropped with their masks.
/// Masks are made at the OUTPUT size: polygons are moved and rasterised there (COCO's rule), RLE
/// masks are decoded, cropped and resized (nearest). `with_masks` = false skips them.
TrainingSample transform_sample(const sdk::Sample& sample, const Geometry& geometry, bool with_masks);

}  // namespace rtseg::framework
