#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/detections.h"
#include "rtseg/framework/eval/coco_evaluator.h"
#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/predict/inference_session.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::framework::distributed {
class ProcessGroup;
}

namespace rtseg::framework::train {

struct ValidationOptions {
  std::string split = "valid";
  std::int64_t resolution = 0;
  std::int64_t batch_size = 4;
  std::int64_t num_select = 300;
  std::int64_t workers = 0;
  std::int64_t threads = 1;   ///< for the COCO evaluation
  torch::Device device = torch::kCPU;
  InferenceOptions inference;  ///< precision and CUDA graph replay of the forward passes
};

/// COCO box (and, for segmentation models, mask) metrics of a model on a dataset split.
struct ValidationResult {
  eval::CocoMetrics box;
  std::optional<eval::CocoMetrics> mask;
  std::vector<Detection> detections;  ///< every image's top num_select, for results.json
  std::int64_t skipped_images = 0;    ///< images that failed to load

  /// The number that decides "best": mask mAP50:95 for segmentation, box mAP50:95 otherwise.
  double score() const { return mask ? mask->stats[eval::kAp] : box.stats[eval::kAp]; }
};

/// Runs the evaluation transform (square resize), the inference path and RF-DETR's
/// post-processing over the split, then the COCO evaluator. The ground truth is read from the
/// dataset once and kept by the caller (`ground_truth`, filled on first use).
///
/// With a process group of several ranks every rank must call it: each validates its shard of
/// the split (images r, r + world, ..., as the training loader deals them), rank 0 gathers the
/// detections, puts them in the split's order and evaluates -- the metrics and detections one
/// process would have produced. Only rank 0's result holds them; the other ranks get an empty
/// result (and read no ground truth).
ValidationResult validate(Model& model, const std::shared_ptr<const sdk::Dataset>& dataset,
                          const ValidationOptions& options, std::optional<eval::GroundTruth>& ground_truth,
                          distributed::ProcessGroup* group = nullptr);

/// The split a run validates on: "valid", else "val", else "test"; empty when none exists.
std::string validation_split(const sdk::Dataset& dataset);

}  // namespace rtseg::framework::train
