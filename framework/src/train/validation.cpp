#include "rtseg/framework/train/validation.h"

#include <algorithm>
#include <map>
#include <set>

#include <torch/torch.h>

#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/distributed/validation_shard.h"
#include "rtseg/framework/eval/results.h"
#include "rtseg/framework/predict/postprocess.h"

namespace rtseg::framework::train {
namespace {

// Rank 0: every rank's shard merged into the split's order (the order one process validates
// in). The loader gives each rank the same number of images, wrapping around at the end of the
// split; an image validated twice that way counts once.
void merge_shards(const std::vector<std::vector<std::uint8_t>>& gathered, ValidationResult& result) {
  std::map<std::int64_t, ImageDetections> by_index;
  std::set<std::int64_t> failed;
  for (const auto& bytes : gathered) {
    distributed::ValidationShard shard = distributed::validation_shard_from_bytes(bytes);
    for (auto& image : shard.images) by_index.emplace(image.index, std::move(image.detections));
    failed.insert(shard.failed.begin(), shard.failed.end());
  }
  for (auto& [index, detections] : by_index) {
    for (Detection& detection : detections) result.detections.push_back(std::move(detection));
  }
  result.skipped_images = static_cast<std::int64_t>(failed.size());
}

}  // namespace

std::string validation_split(const sdk::Dataset& dataset) {
  const auto splits = dataset.splits();
  for (const char* name : {"valid", "val", "test"}) {
    if (std::find(splits.begin(), splits.end(), name) != splits.end() && dataset.size(name) > 0) return name;
  }
  return "";
}

ValidationResult validate(Model& model, const std::shared_ptr<const sdk::Dataset>& dataset,
                          const ValidationOptions& options, std::optional<eval::GroundTruth>& ground_truth,
                          distributed::ProcessGroup* group) {
  const bool sharded = group && group->world_size() > 1;
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
  if (sharded) {
    loader_options.rank = group->rank();
    loader_options.world_size = group->world_size();
  }
  const std::int64_t resolution = options.resolution;
  loader_options.image_size = [resolution](std::int64_t) { return resolution; };
  DataLoader loader(dataset, loader_options);
  // This rank's split indices; batch k holds items k x batch ... of it, minus images that failed.
  const std::vector<std::int64_t> order = sharded ? loader.epoch_indices(0) : std::vector<std::int64_t>();

  const bool was_training = model.is_training();
  torch::NoGradGuard no_grad;
  InferenceSession session(model, options.inference);
  ValidationResult result;
  distributed::ValidationShard shard;
  PostprocessOptions post;
  post.num_select = options.num_select;
  post.num_classes = num_categories;
  post.with_masks = with_masks;
  while (auto batch = loader.next()) {
    result.skipped_images += static_cast<std::int64_t>(batch->problems.size());
    // Sharded: the split index of each loaded image, and of each that failed.
    std::vector<std::int64_t> indices;
    if (sharded) {
      const auto begin = static_cast<std::size_t>(batch->index * options.batch_size);
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(options.batch_size));
      for (std::size_t i = begin; i < end; ++i) {
        const bool loaded = indices.size() < batch->targets.size() &&
                            dataset->record(options.split, order[i]).id == batch->targets[indices.size()].record.id;
        (loaded ? indices : shard.failed).push_back(order[i]);
      }
    }
    if (!batch->images.defined()) continue;
    std::vector<ImageSize> sizes;
    std::vector<std::int64_t> ids;
    for (const Targets& targets : batch->targets) {
      sizes.push_back({targets.record.height, targets.record.width});
      ids.push_back(targets.record.id);
    }
    const Prediction prediction = session.run(batch->images, batch->padding_mask);
    std::vector<ImageDetections> images = postprocess(prediction, sizes, post, ids);
    for (std::size_t i = 0; i < images.size(); ++i) {
      // The decoder has one logit more than the dataset has classes (RF-DETR's layout); a
      // detection of that extra class is not an object of any category.
      ImageDetections kept;
      for (Detection& detection : images[i]) {
        if (detection.label < num_categories) kept.push_back(std::move(detection));
      }
      if (sharded) {
        shard.images.push_back({indices.at(i), std::move(kept)});
      } else {
        for (Detection& detection : kept) result.detections.push_back(std::move(detection));
      }
    }
  }
  model.train(was_training);
  if (sharded) {
    const auto gathered = group->gather_to_rank0(distributed::to_bytes(shard));
    if (group->rank() != 0) return ValidationResult{};
    merge_shards(gathered, result);
  }

  if (!ground_truth) ground_truth = eval::ground_truth_from(*dataset, options.split);
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
