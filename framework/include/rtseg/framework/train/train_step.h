#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>

#include "rtseg/framework/criterion/set_criterion.h"
#include "rtseg/framework/data_loader.h"
#include "rtseg/framework/model.h"
#include "rtseg/framework/train/amp.h"
#include "rtseg/framework/train/ema.h"
#include "rtseg/framework/train/optimizer.h"

namespace rtseg::framework::distributed {
class GradientReducer;
class ProcessGroup;
}

namespace rtseg::framework::train {

/// What one optimizer step reports (read from the device once, at the end of the step).
struct StepResult {
  bool applied = false;      ///< false: skipped (non-finite loss or gradients)
  double total_loss = 0;     ///< the weighted total, averaged over the micro-batches
  double grad_norm = 0;      ///< before clipping (0 when skipped)
  std::int64_t images = 0;
  /// Unweighted losses of the last decoder layer (loss_ce, loss_bbox, ...), averaged over the
  /// micro-batches.
  std::vector<std::pair<std::string, double>> losses;
  /// Data parallel: some rank ran out of device memory in forward, loss or backward; every rank
  /// dropped the step (nothing applied, gradients dropped) and knows it. (One process: the
  /// error propagates instead.)
  bool out_of_memory = false;
  /// This rank's error text when it was the one out of memory; empty on the other ranks.
  std::string out_of_memory_error;
};

/// Resizes a batch to size x size for multi-scale training: images bilinearly, the padding mask
/// and the target masks by nearest neighbour; normalised boxes are unchanged. A batch already at
/// that size is returned as is.
void resize_batch(Batch& batch, std::int64_t size);

/// One optimizer step: forward + criterion under autocast for each micro-batch (the loss scaled
/// by 1 / micro-batches), backward, unscale (fp16), gradient clipping, the optimizer at the
/// scheduled learning rate, loss-scale update and EMA. Gradient accumulation is the number of
/// micro-batches passed in.
class TrainStep {
 public:
  struct Parts {
    Model* model = nullptr;
    const criterion::SetCriterion* criterion = nullptr;
    torch::optim::Optimizer* optimizer = nullptr;
    const std::vector<ParameterGroup>* groups = nullptr;
    LossScaler* scaler = nullptr;
    ModelEma* ema = nullptr;  ///< may be null
    /// Data parallelism: the loss normaliser's object counts are summed over the ranks once at
    /// the start of a step; gradients are averaged over the ranks before clipping -- during the
    /// last micro-batch's backward (distributed::GradientReducer); whether the step is applied,
    /// and whether a rank ran out of memory, is agreed by all. Null: one process.
    distributed::ProcessGroup* process_group = nullptr;
  };
  TrainStep(Parts parts, AmpMode amp, double clip_max_norm, torch::Device device);
  ~TrainStep();

  /// `size` > 0: resize every micro-batch to size x size first (multi-scale).
  ///
  /// Data parallel, a rank out of memory in forward, loss or backward does not leave the others
  /// waiting: it takes part in the collectives left in the step, all ranks agree to drop it and
  /// each returns out_of_memory (the trainer then stops with advice, or retries with half the
  /// batch). Out of memory in the optimizer update, after the agreement, still ends the run.
  StepResult run(std::vector<Batch>& micro_batches, std::int64_t size, double lr_factor,
                 at::Generator& generator);

  /// Drops every gradient (after a failed step, so that a retry starts from nothing).
  void drop_gradients();

  /// The gradient reducer of data-parallel training (null: one process).
  const distributed::GradientReducer* reducer() const { return reducer_.get(); }

  /// Called at the end of each phase of a step -- "forward", "loss", "backward" (per
  /// micro-batch) and "optimizer" (clipping, AdamW, EMA) -- so that a profiler can read the
  /// device's peak memory per phase (bench/train_step). Training leaves it unset.
  void set_phase_observer(std::function<void(const char* phase)> observer) { observer_ = std::move(observer); }

 private:
  void observe(const char* phase) const {
    if (observer_) observer_(phase);
  }
  // Forward, loss and backward of every micro-batch; fills sums and names (see run()).
  void accumulate(std::vector<Batch>& micro_batches, std::int64_t size, const std::vector<double>& objects,
                  at::Generator& generator, torch::Tensor& sums, std::vector<std::string>& names, StepResult& result);
  // Data parallel: each micro-batch's object count, averaged over the ranks (one collective).
  std::vector<double> objects_over_ranks(const std::vector<Batch>& micro_batches) const;

  std::function<void(const char*)> observer_;
  Parts parts_;
  AmpMode amp_;
  double clip_max_norm_;
  torch::Device device_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<distributed::GradientReducer> reducer_;  // with a process group
};

}  // namespace rtseg::framework::train
