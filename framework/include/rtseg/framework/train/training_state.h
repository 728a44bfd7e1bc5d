#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

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
};

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
