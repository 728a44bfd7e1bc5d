#include "rtseg/framework/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <random>
#include <sstream>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "rtseg/framework/criterion/set_criterion.h"
#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/recipe_printer.h"
#include "rtseg/framework/device_generator.h"
#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/distributed/gradient_reducer.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/reporting/metrics_log.h"
#include "rtseg/framework/reporting/progress.h"
#include "rtseg/framework/reporting/tensorboard_writer.h"
#include "rtseg/framework/sample_transform.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/oom_advice.h"
#include "rtseg/framework/train/optimizer.h"
#include "rtseg/framework/train/stop_signal.h"
#include "rtseg/framework/train/train_step.h"
#include "rtseg/framework/train/training_state.h"
#include "rtseg/sdk/atomic_file.h"
#include "rtseg/sdk/errors.h"
#include "stage_trainer.h"

namespace rtseg::framework::train {
namespace {

// RF-DETR repeats very small datasets (drawn with replacement) to this many batches per epoch.
constexpr std::int64_t kMinBatchesPerEpoch = 5;
// Steps in a row with a non-finite loss before the run stops.
constexpr int kMaxNonFiniteSteps = 5;

}  // namespace

LoaderOptions StageTrainer::train_loader_options() const {
  LoaderOptions o;
  o.split = "train";
  o.batch_size = batch_;
  o.workers = options_.workers;
  o.seed = static_cast<std::uint64_t>(options_.seed);
  o.masks = model_.seg_head() != nullptr;
  o.pin_memory = setup_.device.is_cuda();
  if (group_) {
    o.rank = group_->rank();
    o.world_size = group_->world_size();
  }
  const std::int64_t images = setup_.dataset->size("train");
  const std::int64_t per_step = batch_ * accum_ * o.world_size;  // images per step, all ranks
  if (images < kMinBatchesPerEpoch * per_step) o.samples_per_epoch = kMinBatchesPerEpoch * per_step;
  // Multi-scale: images are made at the largest scale; each step resizes its batch (train_step).
  std::int64_t size = setup_.recipe.model.resolution;
  if (options_.multi_scale) {
    const auto sizes = multi_scale_sizes(size, options_.expanded_scales, model_.backbone().size_divisibility(), 1);
    if (!sizes.empty()) size = sizes.back();
  }
  o.image_size = [size](std::int64_t) { return size; };
  return o;
}

MemorySettings StageTrainer::memory_settings() const {
  return MemorySettings{batch_, accum_, setup_.recipe.model.resolution, model_.backbone().size_divisibility(),
                        options_.multi_scale, options_.workers, setup_.recipe.model.num_queries,
                        options_.gradient_checkpointing, options_.amp};
}

// A batch whose images alone exceed the device's memory would load (and decode) all of them
// before an allocation fails, or ask the system for more than it has: refuse it first.
void StageTrainer::check_batch_fits() const {
  const auto size = static_cast<double>(train_loader_options().image_size(0));
  const double images = static_cast<double>(batch_) * 3.0 * size * size * sizeof(float);
  if (images <= static_cast<double>(total_memory(setup_.device))) return;
  throw MemoryShortage(memory_settings(), fmt::format("batch {} at {} x {} takes {:.1f} GiB for its images alone",
                                                      batch_, size, size, images / (1 << 30)));
}

// After --oom retry changed the batch: the run folder's recipe.toml says what the run now uses,
// so that --resume, eval and the user see it.
void StageTrainer::record_batch_in_run_recipe() const {
  RecipeDocument document = RecipeDocument::parse_file(setup_.run.recipe(), setup_.run.recipe().string());
  apply_overrides(document, {Override{"train.batch", std::to_string(batch_), "--oom retry"},
                             Override{"train.accum", std::to_string(accum_), "--oom retry"}});
  std::ostringstream text;
  print_recipe(text, document);
  sdk::write_file_atomically(setup_.run.recipe(), text.str());
}

TrainOutcome StageTrainer::run() {
  auto& log = *setup_.logger;
  if (group_) {
    // Every rank starts from rank 0's weights.
    std::vector<torch::Tensor> state;
    for (const auto& p : model_.parameters()) state.push_back(p);
    for (const auto& b : model_.buffers()) state.push_back(b);
    group_->broadcast(state);
  }
  groups_ = parameter_groups(model_, options_);
  optimizer_ = make_adamw(groups_);
  for (const ParameterGroup& group : groups_) head_lr_ = std::max(head_lr_, group.lr);
  const AmpMode amp = resolve_amp(options_.amp, setup_.device);
  scaler_ = std::make_unique<LossScaler>(amp == AmpMode::kFp16, setup_.device);
  if (options_.ema) ema_ = std::make_unique<ModelEma>(model_, options_.ema_decay, options_.ema_tau);
  if (options_.gradient_checkpointing && !model_.backbone().set_gradient_checkpointing(true)) {
    log.warn("the backbone does not support gradient checkpointing; training without it");
  }
  criterion::SetCriterion criterion(options_.loss, options_.matcher);

  const bool remapped = setup_.resume && load_state();
  if (main_) {
    // Records after the checkpoint go: the resumed run makes them again.
    std::optional<reporting::ResumePoint> resume_point;
    if (setup_.resume) resume_point = reporting::ResumePoint{progress_.epoch + 1, progress_.step};
    metrics_ = std::make_unique<reporting::MetricsLog>(setup_.run.root(), resume_point);
    if (resume_point) report_resume(metrics_->dropped_last_step());
  }
  if (main_ && options_.tensorboard) tensorboard_ = std::make_unique<reporting::TensorBoardWriter>(setup_.run.root());
  valid_split_ = validation_split(*setup_.dataset);
  if (valid_split_.empty()) log.warn("the dataset has no valid/val/test split: epochs end without validation");

  check_batch_fits();
  auto loader = std::make_unique<DataLoader>(setup_.dataset, train_loader_options());
  std::int64_t steps_per_epoch = loader->batches_per_epoch() / accum_;
  if (steps_per_epoch < 1) {
    throw sdk::ConfigError("the train split is smaller than one step (batch " + std::to_string(batch_) +
                           " x accum " + std::to_string(accum_) + ").");
  }
  // The step counter in steps of this setup, so that the schedule (warm-up, drops, cosine) and
  // max_steps continue where the epoch is rather than at the old setup's step count.
  if (remapped) progress_.step = remapped_step(progress_, steps_per_epoch, accum_);
  sdk::ScheduleLength length{options_.epochs * steps_per_epoch, steps_per_epoch};
  if (options_.max_steps > 0) length.total_steps = std::min(length.total_steps, options_.max_steps);
  const auto scales = multi_scale_sizes(setup_.recipe.model.resolution, options_.expanded_scales,
                                        model_.backbone().size_divisibility(), 1);
  TrainStep::Parts parts{&model_, &criterion, optimizer_.get(), &groups_, scaler_.get(), ema_.get(), group_};
  TrainStep step(parts, amp, options_.clip_max_norm, setup_.device);

  log.info("training {} epochs x {} steps (batch {} x accum {}), {} parameter groups, amp {}, on {} -> {}",
           options_.epochs, steps_per_epoch, batch_, accum_, groups_.size(), to_string(amp),
           setup_.device.str(), setup_.run.root().string());
  reporting::ProgressOptions progress_options;
  progress_options.tty = setup_.progress_tty;
  std::ostream discard(nullptr);  // ranks other than 0 print no progress
  reporting::ProgressBar bar(main_ ? std::cerr : discard, progress_options);
  StopSignal stop_signal;
  TrainOutcome outcome;
  int non_finite_in_a_row = 0;
  int unreadable_in_a_row = 0;
  bool overlap_reported = false;

  for (std::int64_t epoch = progress_.epoch; epoch < options_.epochs; ++epoch) {
    const std::int64_t first_step = epoch == progress_.epoch ? progress_.batch / accum_ : 0;
    loader->start_epoch(epoch, first_step * accum_);
    bar.start_epoch(epoch + 1, options_.epochs, steps_per_epoch);
    reset_peak_memory(setup_.device);
    epoch_first_step_ = progress_.step;
    if (group_) epoch_communication_start_ = group_->communication_seconds();
    // A run resumed mid-epoch continues the epoch's loss average.
    epoch_loss_sum_ = first_step > 0 ? progress_.epoch_loss_sum : 0;
    epoch_loss_count_ = first_step > 0 ? progress_.epoch_loss_count : 0;
    epoch_problems_ = 0;
    std::int64_t images_done = 0;
    for (std::int64_t s = first_step; s < steps_per_epoch; ++s) {
      std::vector<Batch> micro_batches;
      for (std::int64_t m = 0; m < accum_; ++m) {
        auto batch = loader->next();
        if (!batch) break;
        for (const sdk::DataProblem& problem : batch->problems) {
          if (epoch_problems_++ < 3) log.warn("skipped {}: {}", problem.file, problem.reason);
          last_problem_ = problem.reason.find(problem.file) == std::string::npos ? problem.file + ": " + problem.reason
                                                                                  : problem.reason;
        }
        micro_batches.push_back(std::move(*batch));
      }
      if (static_cast<std::int64_t>(micro_batches.size()) < accum_) break;

      std::int64_t size = 0;
      if (options_.multi_scale && !scales.empty()) {
        // A function of (seed, step), so a resumed run draws the same sizes.
        std::mt19937_64 draw(static_cast<std::uint64_t>(options_.seed) * 1000003ULL + progress_.step);
        size = scales[draw() % scales.size()];
      }
      const double factor = setup_.scheduler ? setup_.scheduler->factor(progress_.step, length) : 1.0;
      StepResult result;
      // Out of memory: one process gets the error; data-parallel ranks all get out_of_memory
      // in the result (TrainStep has them agree), so all take the same branch below.
      bool out_of_memory = false;
      bool may_retry = true;
      try {
        result = step.run(micro_batches, size, factor, generator_);
        out_of_memory = result.out_of_memory;
      } catch (const std::exception& error) {
        if (!is_out_of_memory(error.what())) throw;
        out_of_memory = true;
        // With several ranks, an out-of-memory that escapes the step came after their vote (in
        // the update): the others completed the step, so this rank cannot retry it alone. It
        // stops with the advice; the others fail at their next collective.
        may_retry = group_ == nullptr;
      }
      if (out_of_memory) {
        if (options_.on_oom == "retry" && batch_ > 1 && may_retry) {
          // Continue from the last completed step with half the batch and twice the accumulation:
          // the same images per step, the same effective batch.
          micro_batches.clear();
          step.drop_gradients();
          release_cached_memory(setup_.device);
          log.warn("out of memory at batch {}: continuing from step {} with batch {} x accum {} (--oom retry)", batch_,
                   progress_.step, batch_ / 2, accum_ * 2);
          batch_ /= 2;
          accum_ *= 2;
          if (main_) record_batch_in_run_recipe();
          loader = std::make_unique<DataLoader>(setup_.dataset, train_loader_options());
          steps_per_epoch = loader->batches_per_epoch() / accum_;
          loader->start_epoch(epoch, s * accum_);
          --s;
          continue;
        }
        throw MemoryShortage(memory_settings(),
                             "out of memory in step " + std::to_string(progress_.step + 1) +
                                 (may_retry ? "" : "; on this rank, in the optimizer update: the other ranks had "
                                                   "applied the step, so it could not be retried"));
      }
      ++progress_.step;
      images_done += result.images;
      if (const auto* reducer = step.reducer(); reducer && !overlap_reported) {
        overlap_reported = true;
        const std::int64_t buckets = reducer->bucket_count();
        const std::int64_t early = reducer->started_during_backward();
        if (early > 0 || !reducer->overlap()) {
          log.info("data parallel: {} gradient bucket(s), {} started during backward", buckets, early);
        } else {
          // A parameter backward does not reach holds its bucket, and every later one, until
          // backward ends.
          log.warn("data parallel: none of {} gradient buckets started during backward (a parameter near the "
                   "output got no gradient): communication does not overlap backward", buckets);
        }
      }
      if (!result.applied && result.images == 0) {
        // Not a loss problem: the step had nothing to train on.
        if (++unreadable_in_a_row >= kMaxNonFiniteSteps) {
          throw sdk::DataError("no image of the last " + std::to_string(kMaxNonFiniteSteps) +
                               " steps could be loaded (the last: " + last_problem_ +
                               "). Check the dataset with `rtseg data check --decode` and fix or remove the files.");
        }
        log.warn("step {}: no image of the step could be loaded, update skipped", progress_.step);
      } else if (!result.applied) {
        unreadable_in_a_row = 0;
        if (++non_finite_in_a_row >= kMaxNonFiniteSteps && !scaler_->enabled()) {
          throw sdk::Error("the loss was NaN or Inf for " + std::to_string(kMaxNonFiniteSteps) +
                           " steps in a row (step " + std::to_string(progress_.step) +
                           "): lower train.lr, check the data with `rtseg data check`, or turn AMP off.");
        }
        log.warn("step {}: non-finite loss or gradients, update skipped", progress_.step);
      } else {
        non_finite_in_a_row = 0;
        unreadable_in_a_row = 0;
        epoch_loss_sum_ += result.total_loss;
        ++epoch_loss_count_;
      }
      const double lr = head_lr_ * factor;
      bar.update({s + 1, images_done, epoch_loss_count_ ? epoch_loss_sum_ / epoch_loss_count_ : 0.0, lr,
                  static_cast<double>(peak_memory(setup_.device).allocated)});
      if (progress_.step % 10 == 0 || s + 1 == steps_per_epoch) {
        reporting::MetricsRow row{epoch + 1, progress_.step, seconds_since(start_), {}};
        row.values.emplace_back("train/loss", result.total_loss);
        for (const auto& [name, value] : result.losses) row.values.emplace_back("train/" + name, value);
        row.values.emplace_back("lr/pg0", lr);
        if (metrics_) metrics_->log_step(row);
        if (tensorboard_) tensorboard_->add_scalars(row.values, progress_.step);
      }
      const bool limit = options_.max_steps > 0 && progress_.step >= options_.max_steps;
      bool stop = StopSignal::requested() != 0;
      if (group_) stop = group_->any(stop);  // every rank stops at the same step
      if (stop || limit) {
        bar.clear();
        if (stop) {
          if (main_) save_state(epoch, (s + 1) * accum_);
          const int signal_number = StopSignal::requested();
          log.warn("stopped by {}: state saved at epoch {} step {}; continue with --resume {}",
                   signal_number ? "signal " + std::to_string(signal_number) : std::string("a signal to another rank"),
                   epoch + 1, progress_.step, setup_.run.root().string());
          outcome.interrupted = true;
          outcome.signal = signal_number ? signal_number : SIGTERM;
          outcome.steps = progress_.step;
          return outcome;
        }
        end_epoch(epoch, outcome);  // a smoke run still validates and writes its weights
        outcome.steps = progress_.step;
        return outcome;
      }
      if (main_ && s + 1 < steps_per_epoch) maybe_checkpoint(epoch, (s + 1) * accum_);  // the epoch's end saves anyway
    }
    bar.end_epoch();
    end_epoch(epoch, outcome);
    bool stop_early =
        main_ && options_.early_stopping && progress_.epochs_without_improvement >= options_.early_stopping_patience;
    if (group_) stop_early = group_->any(stop_early);  // rank 0 validated; the others follow it
    if (stop_early) {
      log.info("early stopping: no improvement above {} for {} epochs", options_.early_stopping_min_delta,
               options_.early_stopping_patience);
      break;
    }
  }
  outcome.steps = progress_.step;
  return outcome;
}

TrainOutcome train(TrainerSetup& setup) {
  StageTrainer trainer(setup);
  return trainer.run();
}

}  // namespace rtseg::framework::train
