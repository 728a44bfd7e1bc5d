// The end of an epoch: validation of the raw model and its EMA (every rank its shard), then
// rank 0's work: the weights (last, best), the training state, metrics, TensorBoard, the curves
// and the validation pictures.
#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/eval/coco_report.h"
#include "rtseg/framework/predict/predictor.h"
#include "rtseg/framework/reporting/curve_plot.h"
#include "rtseg/framework/train/validation.h"
#include "rtseg/framework/weights.h"
#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"
#include "stage_trainer.h"

namespace rtseg::framework::train {
namespace {

// Validation pictures drawn into predictions/ and TensorBoard each epoch.
constexpr std::int64_t kPicturesPerEpoch = 4;

}  // namespace

std::vector<std::string> StageTrainer::class_names() const {
  std::vector<std::string> names;
  for (const auto& category : setup_.dataset->categories()) names.push_back(category.name);
  return names;
}

void StageTrainer::end_epoch(std::int64_t epoch, TrainOutcome& outcome) {
  auto& log = *setup_.logger;
  // Read before validation adds its own: the epoch's training peak (CUDA: the caching
  // allocator's; CPU: the process's resident set) and its collectives.
  const MemoryPeak peak = peak_memory(setup_.device);
  const double communication_seconds = group_ ? group_->communication_seconds() - epoch_communication_start_ : 0.0;

  // Validate the raw model and its EMA; the better one is "best" material (RF-DETR's rule).
  // Every rank validates its shard; rank 0 gathers the detections and holds the metrics.
  std::optional<ValidationResult> result;
  bool ema_won = false;
  if (!valid_split_.empty()) {
    ValidationOptions v;
    v.split = valid_split_;
    v.resolution = setup_.recipe.model.resolution;
    v.batch_size = std::max<std::int64_t>(1, batch_);
    v.num_select = setup_.recipe.model.num_select;
    v.device = setup_.device;
    v.threads = setup_.threads;
    // Validation runs at the training's precision, as RF-DETR evaluates under its autocast.
    const AmpMode amp = resolve_amp(options_.amp, setup_.device);
    v.inference.precision = amp == AmpMode::kOff ? "fp32" : to_string(amp);
    result = validate(model_, setup_.dataset, v, ground_truth_, group_);
    if (ema_) {
      ema_->swap_into_model();
      ValidationResult ema_result = validate(model_, setup_.dataset, v, ground_truth_, group_);
      ema_->swap_into_model();
      if (ema_result.score() > result->score()) {
        result = std::move(ema_result);
        ema_won = true;
      }
    }
  }
  if (!main_) {  // rank 0 writes; the same files serve every rank afterwards
    outcome.best_weights = setup_.run.weights("best");
    outcome.last_weights = setup_.run.weights("last");
    return;
  }

  if (epoch_problems_ > 0) log.warn("epoch {}: {} image(s) could not be loaded and were skipped", epoch + 1, epoch_problems_);
  reporting::MetricsRow row{epoch + 1, progress_.step, 0.0, {}};
  row.values.emplace_back("train/loss", epoch_loss_count_ ? epoch_loss_sum_ / epoch_loss_count_ : 0.0);
  if (group_ && progress_.step > epoch_first_step_) {
    row.values.emplace_back("time/communication_ms_per_step",
                            1000.0 * communication_seconds / static_cast<double>(progress_.step - epoch_first_step_));
  }
  row.values.emplace_back("memory/peak_allocated_gib", static_cast<double>(peak.allocated) / (1 << 30));
  row.values.emplace_back("memory/peak_reserved_gib", static_cast<double>(peak.reserved) / (1 << 30));
  if (result) {
    const auto add = [&row](const std::string& suffix, const eval::CocoMetrics& m) {
      row.values.emplace_back("metrics/mAP50-95(" + suffix + ")", m.stats[eval::kAp]);
      row.values.emplace_back("metrics/mAP50(" + suffix + ")", m.stats[eval::kAp50]);
      row.values.emplace_back("metrics/mAP75(" + suffix + ")", m.stats[eval::kAp75]);
      row.values.emplace_back("metrics/AR100(" + suffix + ")", m.stats[eval::kAr100]);
    };
    add("B", result->box);
    if (result->mask) add("M", *result->mask);
    log.info("epoch {}: box mAP50-95 {:.3f} mAP50 {:.3f}{}{}", epoch + 1, result->box.stats[eval::kAp],
             result->box.stats[eval::kAp50],
             result->mask ? fmt::format(", mask mAP50-95 {:.3f} mAP50 {:.3f}", result->mask->stats[eval::kAp],
                                        result->mask->stats[eval::kAp50])
                          : std::string(),
             ema_won ? " (EMA)" : "");
  }
  row.time = seconds_since(start_);

  // Weights: last = what the run hands on (the EMA when enabled), also kept as epoch<N> every
  // checkpoint_interval epochs; best = the better of the raw and EMA models at the best validated
  // epoch (every epoch when there is no validation split).
  // Each weights file names its classes and size: predict and the next run need not find the data.
  std::map<std::string, std::string> meta = classes_metadata(setup_.dataset->categories());
  meta["epoch"] = std::to_string(epoch + 1);
  meta["size"] = setup_.recipe.model.size;
  if (ema_) ema_->swap_into_model();
  framework::save_state(model_, setup_.run.weights("last"), meta);
  if ((epoch + 1) % options_.checkpoint_interval == 0) {
    framework::save_state(model_, setup_.run.weights("epoch" + std::to_string(epoch + 1)), meta);
  }
  if (ema_) ema_->swap_into_model();
  const double score = result ? result->score() : 0.0;
  const bool improved = !result || progress_.best_epoch < 0 ||
                        score > progress_.best_metric + options_.early_stopping_min_delta;
  if (improved) {
    if (ema_won) ema_->swap_into_model();
    framework::save_state(model_, setup_.run.weights("best"), meta);
    if (ema_won) ema_->swap_into_model();
    progress_.best_metric = score;
    progress_.best_epoch = epoch;
    progress_.epochs_without_improvement = 0;
    outcome.best = result;
    if (result) {
      eval::write_coco_results(setup_.run.root() / "results.json", result->detections, setup_.dataset->categories());
    }
  } else {
    ++progress_.epochs_without_improvement;
  }
  outcome.best_weights = setup_.run.weights("best");
  outcome.last_weights = setup_.run.weights("last");

  metrics_->log_epoch(row);
  if (tensorboard_) {
    tensorboard_->add_scalars(row.values, progress_.step);
    tensorboard_->flush();
  }
  reporting::plot_curves(metrics_->epoch_rows(), setup_.run.curves());
  if (!valid_split_.empty()) log_pictures(epoch);
  // The state last, so that a run killed before this line repeats the epoch's end.
  save_state(epoch + 1, 0);
}

void StageTrainer::log_pictures(std::int64_t epoch) {
  const std::int64_t count = std::min<std::int64_t>(kPicturesPerEpoch, setup_.dataset->size(valid_split_));
  const auto names = class_names();
  std::filesystem::create_directories(setup_.run.predictions());
  for (std::int64_t i = 0; i < count; ++i) {
    sdk::Sample sample;
    try {
      sample = setup_.dataset->load(valid_split_, i);
    } catch (const sdk::Error&) {
      continue;  // counted by validation already
    }
    const torch::Tensor picture = predict_overlay(model_, names, sample.image, setup_.recipe.model.resolution, 0.5f);
    sdk::write_image(setup_.run.predictions() / ("epoch" + std::to_string(epoch + 1) + "_" + std::to_string(i) + ".jpg"),
                     picture);
    if (tensorboard_) tensorboard_->add_image("predictions/" + std::to_string(i), picture, progress_.step);
  }
}

}  // namespace rtseg::framework::train
