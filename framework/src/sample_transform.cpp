#include "rtseg/framework/sample_transform.h"

#include <algorithm>
#include <cmath>

#include <torch/nn/functional/upsampling.h>

namespace rtseg::framework {
namespace {

namespace F = torch::nn::functional;

std::int64_t uniform(std::mt19937_64& rng, std::int64_t low, std::int64_t high) {
  return std::uniform_int_distribution<std::int64_t>(low, high)(rng);
}

// Pixel data of the crop, mirrored if asked, as float [3, h, w] in [0, 255].
torch::Tensor cropped_pixels(const torch::Tensor& image, const Geometry& g) {
  torch::Tensor pixels = image;
  if (g.flip) pixels = pixels.flip({1});
  pixels = pixels.slice(0, g.y0, g.y1).slice(1, g.x0, g.x1);
  return pixels.permute({2, 0, 1}).to(torch::kFloat);
}

torch::Tensor resize_and_normalise(const torch::Tensor& pixels, const Geometry& g) {
  torch::Tensor image = pixels.unsqueeze(0);
  if (image.size(2) != g.out_height || image.size(3) != g.out_width) {
    // Antialiased like PIL's resize, which the reference's transforms use.
    image = F::interpolate(image, F::InterpolateFuncOptions()
                                      .size(std::vector<std::int64_t>{g.out_height, g.out_width})
                                      .mode(torch::kBilinear)
                                      .align_corners(false)
                                      .antialias(true));
  }
  const auto options = torch::TensorOptions().dtype(torch::kFloat);
  const torch::Tensor mean = torch::tensor({kImageMean[0], kImageMean[1], kImageMean[2]}, options).view({1, 3, 1, 1});
  const torch::Tensor std = torch::tensor({kImageStd[0], kImageStd[1], kImageStd[2]}, options).view({1, 3, 1, 1});
  return image.div_(255.0f).sub_(mean).div_(std).squeeze(0);
}

// Maps a source x (y) coordinate into the output image.
struct Mapping {
  double source_width, scale_x, scale_y, x0, y0;
  bool flip;
  double x(double v) const { return ((flip ? source_width - v : v) - x0) * scale_x; }
  double y(double v) const { return (v - y0) * scale_y; }
};

sdk::RunLengths mask_at_output(const sdk::Annotation& annotation, const sdk::ImageRecord& record,
                               const Geometry& g, const Mapping& map) {
  const auto& segmentation = annotation.segmentation;
  if (!segmentation.polygons.empty()) {
    std::vector<std::vector<double>> moved = segmentation.polygons;
    for (auto& polygon : moved) {
      for (std::size_t i = 0; i + 1 < polygon.size(); i += 2) {
        polygon[i] = map.x(polygon[i]);
        polygon[i + 1] = map.y(polygon[i + 1]);
      }
    }
    return sdk::masks::from_polygons(moved, g.out_height, g.out_width);
  }
  if (!segmentation.rle.counts.empty()) {
    torch::Tensor dense = sdk::masks::decode(segmentation.rle);
    if (dense.size(0) != record.height || dense.size(1) != record.width) {
      dense = F::interpolate(dense.view({1, 1, dense.size(0), dense.size(1)}).to(torch::kFloat),
                             F::InterpolateFuncOptions()
                                 .size(std::vector<std::int64_t>{record.height, record.width})
                                 .mode(torch::kNearest))
                  .view({record.height, record.width});
    }
    if (g.flip) dense = dense.flip({1});
    dense = dense.slice(0, g.y0, g.y1).slice(1, g.x0, g.x1).to(torch::kFloat);
    dense = F::interpolate(dense.view({1, 1, dense.size(0), dense.size(1)}),
                           F::InterpolateFuncOptions()
                               .size(std::vector<std::int64_t>{g.out_height, g.out_width})
                               .mode(torch::kNearest))
                .view({g.out_height, g.out_width});
    return sdk::masks::encode(dense.gt(0.5));
  }
  return sdk::RunLengths{g.out_height, g.out_width, {static_cast<std::uint32_t>(g.out_height * g.out_width)}};
}

}  // namespace

std::vector<std::int64_t> multi_scale_sizes(std::int64_t resolution, bool expanded,
                                            std::int64_t patch_size, std::int64_t num_windows) {
  // Sizes must stay multiples of patch x windows so that every window holds whole patches.
  const std::int64_t unit = patch_size * num_windows;
  const std::int64_t base = resolution / unit;
  const std::int64_t lowest = expanded ? -5 : -3, highest = expanded ? 5 : 4;
  std::vector<std::int64_t> sizes;
  for (std::int64_t offset = lowest; offset <= highest; ++offset) {
    const std::int64_t size = (base + offset) * unit;
    if (size >= 2 * unit) sizes.push_back(size);
  }
  return sizes;
}

Geometry square_geometry(std::int64_t width, std::int64_t height, std::int64_t size) {
  return Geometry{false, 0, 0, width, height, size, size};
}

Geometry random_geometry(std::mt19937_64& rng, std::int64_t width, std::int64_t height,
                         std::int64_t size) {
  Geometry g = square_geometry(width, height, size);
  g.flip = uniform(rng, 0, 1) == 1;
  if (uniform(rng, 0, 1) == 0) return g;
  // Shorter side to 400/500/600 (RF-DETR's RandomResize, aspect kept, longer side truncated),
  // then a crop of 384..min(side, 600), placed uniformly; mapped back to source pixels.
  const std::int64_t shorter_target = 400 + 100 * uniform(rng, 0, 2);
  const double shorter = static_cast<double>(std::min(width, height));
  const std::int64_t resized_w = width <= height ? shorter_target
                                                 : static_cast<std::int64_t>(shorter_target * width / shorter);
  const std::int64_t resized_h = height < width ? shorter_target
                                                : static_cast<std::int64_t>(shorter_target * height / shorter);
  const std::int64_t crop_w = uniform(rng, std::min<std::int64_t>(384, resized_w), std::min<std::int64_t>(resized_w, 600));
  const std::int64_t crop_h = uniform(rng, std::min<std::int64_t>(384, resized_h), std::min<std::int64_t>(resized_h, 600));
  const std::int64_t top = uniform(rng, 0, resized_h - crop_h);
  const std::int64_t left = uniform(rng, 0, resized_w - crop_w);
  const double sx = static_cast<double>(width) / resized_w, sy = static_cast<double>(height) / resized_h;
  g.x0 = std::clamp<std::int64_t>(std::llround(left * sx), 0, width - 1);
  g.y0 = std::clamp<std::int64_t>(std::llround(top * sy), 0, height - 1);
  g.x1 = std::clamp<std::int64_t>(std::llround((left + crop_w) * sx), g.x0 + 1, width);
  g.y1 = std::clamp<std::int64_t>(std::llround((top + crop_h) * sy), g.y0 + 1, height);
  return g;
}

TrainingSample transform_sample(const sdk::Sample& sample, const Geometry& g, bool with_masks) {
  TrainingSample out;
  out.image = resize_and_normalise(cropped_pixels(sample.image, g), g);
  out.targets.record = sample.record;

  const double crop_w = static_cast<double>(g.x1 - g.x0), crop_h = static_cast<double>(g.y1 - g.y0);
  const Mapping map{static_cast<double>(sample.record.width), g.out_width / crop_w,
                    g.out_height / crop_h, static_cast<double>(g.x0), static_cast<double>(g.y0), g.flip};
  std::vector<std::int64_t> labels;
  std::vector<float> boxes;
  std::vector<sdk::RunLengths> masks;
  for (const sdk::Annotation& annotation : sample.annotations) {
    if (annotation.is_crowd) continue;
    const auto& b = annotation.box_xywh;
    // Clamp to the image, mirror, move into the crop, clamp to it (RF-DETR's ConvertCoco + crop).
    const double ax0 = std::clamp(b[0], 0.0, static_cast<double>(sample.record.width));
    const double ax1 = std::clamp(b[0] + b[2], 0.0, static_cast<double>(sample.record.width));
    const double ay0 = std::clamp(b[1], 0.0, static_cast<double>(sample.record.height));
    const double ay1 = std::clamp(b[1] + b[3], 0.0, static_cast<double>(sample.record.height));
    double x0 = map.x(g.flip ? ax1 : ax0), x1 = map.x(g.flip ? ax0 : ax1);
    double y0 = map.y(ay0), y1 = map.y(ay1);
    x0 = std::clamp(x0, 0.0, static_cast<double>(g.out_width));
    x1 = std::clamp(x1, 0.0, static_cast<double>(g.out_width));
    y0 = std::clamp(y0, 0.0, static_cast<double>(g.out_height));
    y1 = std::clamp(y1, 0.0, static_cast<double>(g.out_height));
    if (!(x1 > x0) || !(y1 > y0)) continue;
    labels.push_back(annotation.label);
    boxes.insert(boxes.end(), {static_cast<float>((x0 + x1) / 2 / g.out_width),
                               static_cast<float>((y0 + y1) / 2 / g.out_height),
                               static_cast<float>((x1 - x0) / g.out_width),
                               static_cast<float>((y1 - y0) / g.out_height)});
    if (with_masks) masks.push_back(mask_at_output(annotation, sample.record, g, map));
  }
  const auto count = static_cast<std::int64_t>(labels.size());
  out.targets.labels = torch::tensor(labels, torch::kLong).view({count});
  out.targets.boxes = torch::tensor(boxes, torch::kFloat).view({count, 4});
  if (with_masks) {
    out.targets.masks = torch::zeros({count, g.out_height, g.out_width}, torch::kBool);
    for (std::int64_t i = 0; i < count; ++i) out.targets.masks[i].copy_(sdk::masks::decode(masks[i]).to(torch::kBool));
  }
  return out;
}

}  // namespace rtseg::framework
