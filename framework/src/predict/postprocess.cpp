#include "rtseg/framework/predict/postprocess.h"

#include <algorithm>
#include <string>

#include <torch/nn/functional/upsampling.h>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::framework {
namespace {

namespace F = torch::nn::functional;

// Columns of the packed per-detection host copy: score, label, x0, y0, x1, y1.
constexpr std::int64_t kPackedColumns = 6;

void check_inputs(const Prediction& prediction, const std::vector<ImageSize>& sizes,
                  const PostprocessOptions& options) {
  const torch::Tensor& logits = prediction.detections.logits;
  const torch::Tensor& boxes = prediction.detections.boxes;
  if (!logits.defined() || logits.dim() != 3 || !boxes.defined() || boxes.dim() != 3 ||
      boxes.size(2) != 4 || boxes.size(0) != logits.size(0) || boxes.size(1) != logits.size(1)) {
    throw sdk::Error("postprocess: expected logits [B, Q, C] and boxes [B, Q, 4]");
  }
  if (static_cast<std::int64_t>(sizes.size()) != logits.size(0)) {
    throw sdk::Error("postprocess: " + std::to_string(sizes.size()) + " image sizes for a batch of " +
                     std::to_string(logits.size(0)));
  }
  for (const ImageSize& size : sizes) {
    if (size.height <= 0 || size.width <= 0) {
      throw sdk::Error("postprocess: image size " + std::to_string(size.height) + " x " +
                       std::to_string(size.width) + " is not positive");
    }
  }
  if (options.num_select <= 0) throw sdk::Error("postprocess: num_select must be positive");
}

// The chosen queries' mask logits [K, h, w], computed for those queries only.
torch::Tensor selected_mask_logits(const sdk::MaskEmbedding& embedding, std::int64_t image,
                                   const torch::Tensor& queries) {
  sdk::MaskEmbedding chosen;
  chosen.pixels = embedding.pixels.slice(0, image, image + 1);
  chosen.queries = embedding.queries.select(0, image).index_select(0, queries).unsqueeze(0);
  chosen.bias = embedding.bias;
  return sdk::mask_logits(chosen).squeeze(0);
}

// Bilinear resize to the source size (align_corners = false), cut at 0, copied to the host; in
// chunks of detections so that at most `max_elements` floats are resized at once.
torch::Tensor masks_at_source(const torch::Tensor& low_res, ImageSize size, std::int64_t max_elements) {
  const std::int64_t count = low_res.size(0);
  const std::int64_t pixels = size.height * size.width;
  const std::int64_t chunk = std::max<std::int64_t>(1, max_elements / std::max<std::int64_t>(pixels, 1));
  const auto resize = [&](const torch::Tensor& part) {
    return F::interpolate(part.unsqueeze(1).to(torch::kFloat),
                          F::InterpolateFuncOptions()
                              .size(std::vector<std::int64_t>{size.height, size.width})
                              .mode(torch::kBilinear)
                              .align_corners(false))
        .squeeze(1)
        .gt(0.0);
  };
  if (count <= chunk) return resize(low_res).to(torch::kCPU);
  torch::Tensor out = torch::empty({count, size.height, size.width}, torch::TensorOptions().dtype(torch::kBool));
  for (std::int64_t start = 0; start < count; start += chunk) {
    const std::int64_t end = std::min(count, start + chunk);
    out.slice(0, start, end).copy_(resize(low_res.slice(0, start, end)));
  }
  return out;
}

}  // namespace

std::vector<SelectedDetections> select_detections(const Prediction& prediction,
                                                  const std::vector<ImageSize>& sizes,
                                                  const PostprocessOptions& options) {
  check_inputs(prediction, sizes, options);
  const torch::Tensor& all_logits = prediction.detections.logits;
  const torch::Tensor logits = options.num_classes > 0 && options.num_classes < all_logits.size(2)
                                   ? all_logits.narrow(2, 0, options.num_classes)
                                   : all_logits;
  const std::int64_t batch = logits.size(0), classes = logits.size(2);
  const std::int64_t k = std::min(options.num_select, logits.size(1) * classes);
  const torch::Device device = logits.device();

  // Top-k over every (query, class) pair, as RF-DETR ranks them.
  const auto top = logits.sigmoid().reshape({batch, -1}).topk(k, 1);
  const torch::Tensor scores = std::get<0>(top).to(torch::kFloat);
  const torch::Tensor flat_index = std::get<1>(top);
  const torch::Tensor queries = at::div(flat_index, classes, "floor");
  const torch::Tensor labels = flat_index.remainder(classes);

  const torch::Tensor cxcywh = prediction.detections.boxes.to(torch::kFloat);
  const torch::Tensor cx = cxcywh.select(2, 0), cy = cxcywh.select(2, 1);
  const torch::Tensor w = cxcywh.select(2, 2), h = cxcywh.select(2, 3);
  const torch::Tensor corners = torch::stack({cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}, 2);
  std::vector<float> scale_values;
  for (const ImageSize& size : sizes) {
    scale_values.insert(scale_values.end(), {static_cast<float>(size.width), static_cast<float>(size.height),
                                             static_cast<float>(size.width), static_cast<float>(size.height)});
  }
  const torch::Tensor scale = torch::from_blob(scale_values.data(), {batch, 1, 4}, torch::kFloat).to(device);
  const torch::Tensor boxes = corners.gather(1, queries.unsqueeze(2).expand({batch, k, 4})) * scale;

  // One host copy for the whole batch (labels are small integers, exact in float).
  const torch::Tensor packed =
      torch::cat({scores.unsqueeze(2), labels.to(torch::kFloat).unsqueeze(2), boxes}, 2).to(torch::kCPU);

  const bool with_masks = options.with_masks && prediction.masks.has_value();
  std::vector<SelectedDetections> out(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) {
    const torch::Tensor rows = packed.select(0, i);
    // Scores are sorted, so the kept detections are a prefix.
    const std::int64_t kept = options.score_threshold < 0
                                  ? k
                                  : rows.select(1, 0).gt(options.score_threshold).sum().item<std::int64_t>();
    SelectedDetections& image = out[static_cast<std::size_t>(i)];
    image.scores = rows.select(1, 0).slice(0, 0, kept).contiguous();
    image.labels = rows.select(1, 1).slice(0, 0, kept).to(torch::kLong);
    image.boxes_xyxy = rows.slice(1, 2, kPackedColumns).slice(0, 0, kept).contiguous();
    if (!with_masks) continue;
    const ImageSize size = sizes[static_cast<std::size_t>(i)];
    if (kept == 0) {
      image.masks = torch::zeros({0, size.height, size.width}, torch::TensorOptions().dtype(torch::kBool));
      continue;
    }
    const torch::Tensor chosen = queries.select(0, i).slice(0, 0, kept);
    image.masks = masks_at_source(selected_mask_logits(*prediction.masks, i, chosen), size,
                                  options.max_resize_elements);
  }
  return out;
}

ImageDetections to_detections(const SelectedDetections& selected, std::int64_t image_id) {
  const std::int64_t count = selected.scores.size(0);
  const auto scores = selected.scores.accessor<float, 1>();
  const auto labels = selected.labels.accessor<std::int64_t, 1>();
  const auto boxes = selected.boxes_xyxy.accessor<float, 2>();
  ImageDetections out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    Detection detection;
    detection.image_id = image_id;
    detection.label = labels[k];
    detection.score = scores[k];
    // Width and height in float, as RF-DETR's evaluation converts them.
    detection.box_xywh = {boxes[k][0], boxes[k][1], boxes[k][2] - boxes[k][0], boxes[k][3] - boxes[k][1]};
    if (selected.masks.defined()) detection.mask = sdk::masks::encode(selected.masks[k]);
    out.push_back(std::move(detection));
  }
  return out;
}

std::vector<ImageDetections> postprocess(const Prediction& prediction, const std::vector<ImageSize>& sizes,
                                         const PostprocessOptions& options,
                                         const std::vector<std::int64_t>& image_ids) {
  if (!image_ids.empty() && image_ids.size() != sizes.size()) {
    throw sdk::Error("postprocess: " + std::to_string(image_ids.size()) + " image ids for " +
                     std::to_string(sizes.size()) + " images");
  }
  const std::vector<SelectedDetections> selected = select_detections(prediction, sizes, options);
  std::vector<ImageDetections> out;
  out.reserve(selected.size());
  for (std::size_t i = 0; i < selected.size(); ++i) {
    out.push_back(to_detections(selected[i], image_ids.empty() ? static_cast<std::int64_t>(i) : image_ids[i]));
  }
  return out;
}

}  // namespace rtseg::framework
