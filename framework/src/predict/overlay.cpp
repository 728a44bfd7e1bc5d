#include "rtseg/framework/predict/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rtseg/framework/bitmap_font.h"
#include "rtseg/framework/draw.h"
#include "rtseg/sdk/errors.h"

namespace rtseg::framework {
namespace {

// Sizes that stay legible from thumbnails to photos: one step per ~300 pixels of the short side.
int automatic_scale(std::int64_t short_side) {
  return static_cast<int>(std::clamp<std::int64_t>((short_side + 150) / 300, 1, 8));
}

// Blends every mask in one pass: an index map of the top mask per pixel, then a palette lookup.
void blend_masks(torch::Tensor& picture, const torch::Tensor& masks, const std::vector<std::int64_t>& order,
                 const std::vector<Color>& colors, float alpha) {
  const std::int64_t h = picture.size(0), w = picture.size(1);
  torch::Tensor top = torch::full({h, w}, -1, torch::TensorOptions().dtype(torch::kLong));
  for (std::int64_t k : order) top.masked_fill_(masks[k], k);
  const torch::Tensor covered = top.ge(0);
  std::vector<std::uint8_t> palette_values;
  for (const Color& c : colors) palette_values.insert(palette_values.end(), c.begin(), c.end());
  const torch::Tensor palette =
      torch::from_blob(palette_values.data(), {static_cast<std::int64_t>(colors.size()), 3}, torch::kByte)
          .to(torch::kFloat);
  const torch::Tensor tint = palette.index_select(0, top.clamp_min(0).view({-1})).view({h, w, 3});
  const torch::Tensor blended = (picture.to(torch::kFloat) * (1 - alpha) + tint * alpha).round().to(torch::kByte);
  picture = torch::where(covered.unsqueeze(2), blended, picture);
}

}  // namespace

std::string detection_label(std::int64_t label, float score, const std::vector<std::string>& class_names) {
  const bool named = label >= 0 && label < static_cast<std::int64_t>(class_names.size());
  char value[32];
  std::snprintf(value, sizeof value, "%.2f", static_cast<double>(score));
  return (named ? class_names[static_cast<std::size_t>(label)] : "class " + std::to_string(label)) + " " + value;
}

torch::Tensor draw_overlay(const torch::Tensor& image, const SelectedDetections& detections,
                           const std::vector<std::string>& class_names, const OverlayStyle& style) {
  if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kByte) {
    throw sdk::Error("draw_overlay: expected a uint8 [H, W, 3] image");
  }
  torch::Tensor picture = image.to(torch::kCPU).contiguous().clone();
  const std::int64_t h = picture.size(0), w = picture.size(1);
  const std::int64_t count = detections.scores.defined() ? detections.scores.size(0) : 0;
  if (count == 0) return picture;
  if (detections.masks.defined() &&
      (detections.masks.size(0) != count || detections.masks.size(1) != h || detections.masks.size(2) != w)) {
    throw sdk::Error("draw_overlay: masks do not match the picture's size or the detections");
  }
  const auto scores = detections.scores.accessor<float, 1>();
  const auto labels = detections.labels.accessor<std::int64_t, 1>();
  const auto boxes = detections.boxes_xyxy.accessor<float, 2>();

  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) order[static_cast<std::size_t>(k)] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return scores[a] < scores[b]; });
  std::vector<Color> colors;
  for (std::int64_t k = 0; k < count; ++k) colors.push_back(class_color(labels[k]));

  if (detections.masks.defined()) blend_masks(picture, detections.masks, order, colors, style.mask_alpha);

  const int scale = style.text_scale > 0 ? style.text_scale : automatic_scale(std::min(h, w));
  const int thickness = style.box_thickness > 0 ? style.box_thickness : scale + 1;
  for (std::int64_t k : order) {
    draw_box(picture, boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3], colors[static_cast<std::size_t>(k)],
             thickness);
  }
  for (std::int64_t k : order) {
    const std::string text = detection_label(labels[k], scores[k], class_names);
    const std::int64_t label_h = text_size(text, scale).height + 2 * scale;
    const auto x0 = static_cast<std::int64_t>(std::lround(std::max(0.0f, boxes[k][0])));
    const auto y0 = static_cast<std::int64_t>(std::lround(std::max(0.0f, boxes[k][1])));
    // Above the box when there is room, else just inside its top edge.
    const std::int64_t y = y0 >= label_h ? y0 - label_h : y0;
    draw_label(picture, x0, y, text, colors[static_cast<std::size_t>(k)], scale);
  }
  return picture;
}

}  // namespace rtseg::framework
