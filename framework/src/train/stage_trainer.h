#pragma once

// The trainer of one stage, shared by trainer.cpp (the step loop) and epoch_end.cpp
// (validation, checkpoints, metrics and pictures at each epoch's end). Internal to the framework.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/adamw.h>

#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/device_generator.h"
#include "rtseg/framework/distributed/process_group.h"
#include "rtseg/framework/eval/ground_truth.h"
#include "rtseg/framework/reporting/metrics_log.h"
#include "rtseg/framework/reporting/tensorboard_writer.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/oom_advice.h"
#include "rtseg/framework/train/optimizer.h"
#include "rtseg/framework/train/trainer.h"
#include "rtseg/framework/train/training_state.h"

namespace rtseg::framework::train {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The criterion's random draws (the mask losses' points): rank 0 from the recipe's seed, so one
// process trains as before; the other ranks draw their own numbers, as RF-DETR seeds seed + rank.
// A resumed rank other than 0 (the state holds rank 0's generator) re-seeds at its step.
inline std::uint64_t criterion_seed(std::int64_t seed, const distributed::ProcessGroup* group, std::int64_t step) {
  const std::uint64_t rank = group ? static_cast<std::uint64_t>(group->rank()) : 0;
  if (rank == 0) return static_cast<std::uint64_t>(seed);
  return static_cast<std::uint64_t>(seed) + rank * 1000003ULL + static_cast<std::uint64_t>(step) * 7919ULL;
}

class StageTrainer {
 public:
  explicit StageTrainer(TrainerSetup& setup)
      : setup_(setup),
        options_(setup.recipe.train),
        model_(*setup.model),
        generator_(make_generator(criterion_seed(options_.seed, setup.process_group, 0), setup.device)) {}

  TrainOutcome run();

 private:
  LoaderOptions train_loader_options() const;
  MemorySettings memory_settings() const;
  void check_batch_fits() const;
  void end_epoch(std::int64_t epoch, TrainOutcome& outcome);
  // checkpoint.cpp: the training state saved and loaded.
  void save_state(std::int64_t epoch, std::int64_t batch);
  void maybe_checkpoint(std::int64_t epoch, std::int64_t batch);
  bool load_state();  // returns whether the data position was re-mapped (another world or batch)
  void report_resume(std::int64_t reached_step) const;
  void log_pictures(std::int64_t epoch);
  std::vector<std::string> class_names() const;
  void record_batch_in_run_recipe() const;

  TrainerSetup& setup_;
  const TrainOptions& options_;
  Model& model_;
  at::Generator generator_;
  distributed::ProcessGroup* group_ = setup_.process_group;
  bool main_ = !group_ || group_->rank() == 0;  // validates and writes the run's files
  double epoch_communication_start_ = 0;  // the group's collective seconds when the epoch began
  std::int64_t epoch_first_step_ = 0;
  std::int64_t batch_ = options_.batch;  // lowered by --oom retry
  std::int64_t accum_ = options_.accum;

  std::vector<ParameterGroup> groups_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<ModelEma> ema_;
  std::unique_ptr<LossScaler> scaler_;
  std::unique_ptr<reporting::MetricsLog> metrics_;
  std::unique_ptr<reporting::TensorBoardWriter> tensorboard_;
  std::optional<eval::GroundTruth> ground_truth_;
  std::string valid_split_;
  Progress progress_;
  double head_lr_ = 0;  // the largest base rate (the heads'), the one progress lines show
  double epoch_loss_sum_ = 0;
  std::int64_t epoch_loss_count_ = 0;
  std::int64_t epoch_problems_ = 0;
  std::string last_problem_;  // the last image that could not be loaded, and why
  std::int64_t temporaries_removed_ = 0;  // by a resume: what killed writes had left
  // Training time runs on from a resumed state's (results.csv's time column).
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_checkpoint_ = start_;
};

}  // namespace rtseg::framework::train
