#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/adamw.h>

#include "rtseg/framework/model.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/optimizer.h"

namespace rtseg::framework::train {

/// Where the run is: what --resume needs besides the tensors.
struct Progress {
  std::int64_t epoch = 0;           ///< the epoch in progress (0-based)
  std::int64_t batch = 0;           ///< the next loader batch of that epoch
  std::int64_t step = 0;            ///< optimizer steps done
  double best_metric = -1;          ///< best validation score so far (-1: none yet)
  std::int64_t best_epoch = -1;
  std::int64_t epochs_without_improvement = 0;
  /// Processes the run trained with, and the images per loader batch of one of them, when the
  /// state was saved: a resume with another number of ranks re-maps the data position.
  std::int64_t world_size = 1;
  std::int64_t images_per_batch = 0;
  /// Seconds of training before this point, over every earlier part of the run (results.csv's
  /// time column continues from it).
  double seconds = 0;
  /// The epoch in progress's training loss so far (sum over its applied steps, and their count),
  /// so that a run resumed mid-epoch reports the same epoch loss as an uninterrupted one.
  double epoch_loss_sum = 0;
  std::int64_t epoch_loss_count = 0;
  /// The stage's `freeze` entries: a resume freezes the same parts before it builds the optimizer.
  std::vector<std::string> freeze;
};

/// The progress a state file records, read without its tensors (what a resume sets itself up
/// from, and what it reports having found). Throws DataError naming the file when it is not an
/// rtseg training state or its metadata is damaged.
Progress read_progress(const std::filesystem::path& file);

/// The loader batch a resumed rank continues at when the world or batch changed: the same
/// number of the epoch's images done (rounded down to a whole optimizer step of the new setup,
/// so no image is skipped), counted in the new per-rank batches.
std::int64_t remap_data_position(const Progress& saved, std::int64_t world_size, std::int64_t batch,
                                 std::int64_t accum);

/// The optimizer steps done, counted in the new setup's steps, for a progress whose data position
/// was re-mapped: whole epochs of `steps_per_epoch` plus the steps of the epoch in progress.
std::int64_t remapped_step(const Progress& remapped, std::int64_t steps_per_epoch, std::int64_t accum);

/// Everything a run needs to continue exactly: model, optimizer moments, EMA, loss scale, the
/// criterion's random generator and the progress. Saved as one safetensors file (atomic: a
/// killed write leaves the previous state intact) with the progress in its metadata.
struct TrainingState {
  Model* model = nullptr;
  torch::optim::AdamW* optimizer = nullptr;
  const std::vector<ParameterGroup>* groups = nullptr;
  ModelEma* ema = nullptr;          ///< may be null
  LossScaler* scaler = nullptr;
  at::Generator* generator = nullptr;

  void save(const std::filesystem::path& file, const Progress& progress) const;
  /// Throws DataError naming the file when it does not fit this model and optimizer.
  Progress load(const std::filesystem::path& file) const;
};

}  // namespace rtseg::framework::train
