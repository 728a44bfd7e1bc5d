#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/recipe.h"
#include "rtseg/framework/recipe_loader.h"
#include "rtseg/framework/runtime.h"
#include "rtseg/framework/train/trainer.h"

namespace spdlog {
class logger;
}

namespace rtseg::framework::distributed {
class ProcessGroup;
}

namespace rtseg::framework::train {

struct PipelineOptions {
  /// Replaces the first stage's init_from (the seed's --stage1_run RUN).
  std::string first_stage_init;
  /// Continue this run folder (its recipe.toml and state); the recipe argument is ignored.
  std::optional<std::filesystem::path> resume;
  bool progress_tty = false;
  /// Data parallelism (see distributed/process_group.h); null: run_pipeline makes one when the
  /// environment describes several processes (torchrun, SLURM), else trains in this process alone.
  distributed::ProcessGroup* process_group = nullptr;
};

/// One finished stage.
struct StageOutcome {
  std::string name;
  std::filesystem::path run;
  TrainOutcome outcome;
};

/// Runs every stage of a recipe in order (a recipe without [[stage]] is one stage named
/// "train"): builds the dataset, the model (classes from the dataset), loads init_from (an
/// earlier stage's best weights or a run folder's), freezes what the stage lists, and trains in
/// a new run folder <train.output_dir>/<stage>_<size>_<resolution>_<n>. Stops after a stage
/// interrupted by a signal.
std::vector<StageOutcome> run_pipeline(Runtime& runtime, const LoadedRecipe& recipe, const PipelineOptions& options);

/// Builds a stage's model from a run folder (its recipe.toml) and loads its weights ("best",
/// "last" or a file): what `rtseg eval` and `rtseg predict` use. Returns the checked recipe too.
struct LoadedRun {
  CheckedRecipe recipe;
  RecipeDocument document;
  std::shared_ptr<Model> model;
  std::filesystem::path weights;
  /// The classes the model names: its weights' metadata, else the recipe's model.class_names
  /// (ids: the class indices). Empty for runs that recorded none (their dataset names them).
  std::vector<sdk::Category> classes;
};
LoadedRun load_run(Runtime& runtime, const std::filesystem::path& run, const std::string& weights,
                   const std::string& device, const std::vector<Override>& overrides = {});

/// Freezes a stage's `freeze` entries (components "backbone", "decoder", "seg_head" or parameter-name
/// prefixes); with backbone and decoder frozen under a mask head the detector runs without
/// autograd. Throws sdk::ConfigError for an entry that matches nothing.
void apply_freeze(Model& model, const std::vector<std::string>& freeze, spdlog::logger& log);

/// "auto" -> CUDA when available, else CPU; otherwise parsed ("cpu", "cuda", "cuda:1").
torch::Device resolve_device(const std::string& setting);

}  // namespace rtseg::framework::train
