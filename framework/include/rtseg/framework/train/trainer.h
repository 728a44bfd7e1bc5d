#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/model.h"
#include "rtseg/framework/recipe.h"
#include "rtseg/framework/train/run_folder.h"
#include "rtseg/framework/train/validation.h"
#include "rtseg/sdk/components/dataset.h"
#include "rtseg/sdk/components/scheduler.h"

namespace spdlog {
class logger;
}

namespace rtseg::framework::distributed {
class ProcessGroup;
}

namespace rtseg::framework::train {

/// Everything one stage trains with, built from its recipe (see stage_runner.h).
struct TrainerSetup {
  CheckedRecipe recipe;
  std::shared_ptr<Model> model;  ///< on `device`, weights initialised, frozen parts set
  std::shared_ptr<const sdk::Dataset> dataset;
  std::shared_ptr<const sdk::Scheduler> scheduler;  ///< null: constant learning rate
  RunFolder run;
  torch::Device device = torch::kCPU;
  std::shared_ptr<spdlog::logger> logger;
  bool resume = false;            ///< continue from run.state()
  std::int64_t threads = 1;       ///< CPU threads (evaluation)
  bool progress_tty = false;      ///< redraw a progress bar in place
  /// Data parallelism over several processes (null: one). Rank 0 validates and writes every
  /// file; all ranks train on their shard of each step's images.
  distributed::ProcessGroup* process_group = nullptr;
  /// The stage's `freeze` entries (already applied to the model), kept in the training state so
  /// that a resume freezes the same parts.
  std::vector<std::string> freeze;
};

/// How a stage ended.
struct TrainOutcome {
  std::filesystem::path best_weights;  ///< empty when no epoch finished
  std::filesystem::path last_weights;
  std::optional<ValidationResult> best;  ///< the best epoch's validation (when validated)
  std::int64_t steps = 0;
  bool interrupted = false;             ///< stopped by SIGINT/SIGTERM (state saved)
  int signal = 0;                       ///< which one (SIGTERM when another rank's stopped it)
};

/// Trains one stage: epochs of optimizer steps with validation, checkpoints, metrics,
/// TensorBoard, pictures and early stopping at each epoch's end. Resumable at any step boundary.
TrainOutcome train(TrainerSetup& setup);

}  // namespace rtseg::framework::train
