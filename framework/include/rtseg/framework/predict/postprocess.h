#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "rtseg/framework/detections.h"
#include "rtseg/framework/model.h"

/// From the model's raw queries to detections in source-image pixels, as RF-DETR's PostProcess
/// does it: sigmoid scores, top-k over every (query, class) pair, boxes (cx, cy, w, h) / side ->
/// corners scaled by the SOURCE image's size, the chosen queries' masks bilinearly resized
/// (align_corners = false) to the source size and cut at logit 0.
namespace rtseg::framework {

/// A source image's size in pixels.
struct ImageSize {
  std::int64_t height = 0;
  std::int64_t width = 0;
};

struct PostprocessOptions {
  /// Detections kept per image before the threshold (RF-DETR's num_select); at most
  /// queries x classes are available, fewer are taken when there are not that many.
  std::int64_t num_select = 300;
  /// The dataset's classes: logits past this many (the decoder's extra logit) are never
  /// ranked. 0: every logit is a class (RF-DETR's own layout).
  std::int64_t num_classes = 0;
  /// Detections scoring at or below this are dropped before their masks are resized (RF-DETR's
  /// predict keeps `score > threshold`). Negative (the default) keeps all num_select, as
  /// evaluation needs.
  float score_threshold = -1.0f;
  /// Resize and threshold masks when the prediction has them (false: boxes only).
  bool with_masks = true;
  /// Upper bound on floats resized at once (detections x source pixels); larger sets are
  /// resized in chunks so a big photo with many detections does not exhaust memory.
  std::int64_t max_resize_elements = std::int64_t{1} << 27;
};

/// One image's detections as tensors on the host, best score first.
struct SelectedDetections {
  torch::Tensor scores;      ///< [K] float
  torch::Tensor labels;      ///< [K] int64, class (logit) index
  torch::Tensor boxes_xyxy;  ///< [K, 4] float, source pixels (x0, y0, x1, y1), not clamped
  torch::Tensor masks;       ///< [K, H, W] bool at the source size; undefined without masks
};

/// The tensor stage: one entry per image of the batch. `sizes` has one entry per image. The work
/// runs on the prediction's device; scores, labels and boxes of the whole batch come to the host in
/// one copy, then each image's masks in one copy (per chunk, see max_resize_elements).
/// Throws sdk::Error when sizes do not match the batch or a size is not positive.
std::vector<SelectedDetections> select_detections(const Prediction& prediction,
                                                  const std::vector<ImageSize>& sizes,
                                                  const PostprocessOptions& options = {});

/// Converts to the shared result type: boxes as (x, y, w, h), masks as run-length encodings.
ImageDetections to_detections(const SelectedDetections& selected, std::int64_t image_id);

/// select_detections + to_detections. `image_ids` gives Detection::image_id per image (empty:
/// the image's index in the batch).
std::vector<ImageDetections> postprocess(const Prediction& prediction,
                                         const std::vector<ImageSize>& sizes,
                                         const PostprocessOptions& options = {},
                                         const std::vector<std::int64_t>& image_ids = {});

}  // namespace rtseg::framework
