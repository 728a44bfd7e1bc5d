#include "rtseg/framework/train/validation.h"

#include <algorithm>

#include <torch/torch.h>

#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/eval/results.h"
#include "rtseg/framework/predict/postprocess.h"

namespace rtseg::framework::train {

std::string validation_split(const sdk::Dataset& dataset) {
  const auto splits = dataset.splits();
  for (const char* name : {"valid", "val", "test"}) {
    if (std::find(splits.begin(), splits.end(), name) != splits.end() && dataset.size(name) > 0) return name;
  }
  return "";
}

ValidationResult validate(Model& model, const std::shared_ptr<const sdk::Dataset>& dataset,
                          const ValidationOptions& options, std::optional<eval::GroundTruth>& ground_truth) {
  if (!ground_truth) ground_truth = eval::ground_truth_from(*dataset, options.split);
  const bool with_masks = model.seg_head() != nullptr;
  const auto categories = dataset->categories();
  const auto num_categories = static_cast<std::int64_t>(categories.size());

  LoaderOptions loader_options;
  loader_options.split = options.split;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  loader_options.shuffle = false;
  loader_options.augment = false;
  loader_options.masks = false;
  loader_options.pin_memory = options.device.is_cuda();
  const std::int64_t resolution = options.resolution;
  loader_options.image_size = [resolution](std::int64_t) { return resolution; };
  DataLoader loader(dataset, loader_options);

  const bool was_training = model.is_training();
  torch::NoGradGuard no_grad;
  InferenceSession session(model, options.inference);
  ValidationResult result;
  PostprocessOptions post;
  post.num_select = options.num_select;
  post.num_classes = num_categories;
  post.with_masks = with_masks;
  while (auto batch = loader.next()) {
    result.skipped_images += static_cast<std::int64_t>(batch->problems.size());
    if (!batch->images.defined()) continue;
    std::vector<ImageSize> sizes;
    std::vector<std::int64_t> ids;
    for (const Targets& targets : batch->targets) {
      sizes.push_back({targets.record.height, targets.record.width});
      ids.push_back(targets.record.id);
    }
    const Prediction prediction = session.run(batch->images, batch->padding_mask);
    for (ImageDetections& image : postprocess(prediction, sizes, post, ids)) {
      for (Detection& detection : image) {
        // The decoder has one logit more than the dataset has classes (RF-DETR's layout); a
        // detection of that extra class is not an object of any category.
        if (detection.label < num_categories) result.detections.push_back(std::move(detection));
      }
    }
  }
  model.train(was_training);

  eval::EvalOptions eval_options;
  eval_options.threads = static_cast<int>(std::max<std::int64_t>(1, options.threads));
  eval_options.iou_type = eval::IouType::kBox;
  result.box = eval::evaluate_coco(*ground_truth, eval::results_from(result.detections, categories, eval::IouType::kBox),
                                   eval_options);
  if (with_masks) {
    eval_options.iou_type = eval::IouType::kSegm;
    result.mask = eval::evaluate_coco(
        *ground_truth, eval::results_from(result.detections, categories, eval::IouType::kSegm), eval_options);
  }
  return result;
}

}  // namespace rtseg::framework::train
