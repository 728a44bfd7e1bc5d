#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rtseg/framework/recipe.h"
#include "rtseg/framework/train/step_probe.h"

/// The memory planner behind `rtseg plan` and `rtseg train --batch auto`: measures real training
/// steps at a few small batches and two resolutions, fits peak = fixed + per_image x batch x
/// (resolution / r0)^exponent, and picks the largest batch that fits a budget.
namespace rtseg::framework::train {

/// The fitted model of a stage's peak memory.
struct MemoryFit {
  double fixed_bytes = 0;      ///< weights, optimizer state, EMA, workspaces (and, on the CPU, the process)
  double per_image_bytes = 0;  ///< activations of one image at `resolution`
  double exponent = 2;         ///< how per-image memory grows with the side (2: with the pixel count)
  std::int64_t resolution = 0;

  double predict(std::int64_t batch, std::int64_t side) const;
};

/// One measured point.
struct MemorySample {
  std::int64_t batch = 0;
  std::int64_t resolution = 0;
  std::int64_t peak_bytes = 0;  ///< peak allocated over the probe's steps
  double step_ms = 0;
};

/// Fits the samples: a least-squares line over batch at the main resolution (the one with the
/// most samples), then the exponent from the samples at other resolutions (2 when there are
/// none). Throws sdk::Error with fewer than two batch sizes at the main resolution.
MemoryFit fit_memory(const std::vector<MemorySample>& samples);

struct PlanOptions {
  std::int64_t resolution = 0;        ///< the largest training size (multi-scale: the largest scale)
  std::int64_t size_divisibility = 1;  ///< resolutions tried are multiples of this
  std::int64_t budget_bytes = 0;      ///< 0: none (only the table)
  double headroom = 0.10;             ///< fraction of the budget kept free (fragmentation, spikes)
  std::int64_t effective_batch = 1;   ///< the recipe's batch x accum, kept by the recommendation
  std::vector<std::int64_t> measure_batches = {1, 2};
  /// A second resolution measured for the exponent (0: about 3/4 of `resolution`; negative: none).
  std::int64_t second_resolution = 0;
};

struct Plan {
  std::int64_t resolution = 0;         ///< the size planned for (PlanOptions::resolution)
  std::int64_t size_divisibility = 1;  ///< the backbone's (sizes it can take are multiples)
  std::vector<MemorySample> measured;
  MemoryFit fit;
  /// The recommendation: the largest batch that fits and divides the effective batch (0: none
  /// fits; an effective batch at or under what fits is used whole).
  std::int64_t batch = 0;
  std::int64_t accum = 1;  ///< effective batch / batch
  bool fits_at_batch_1 = true;
};

/// Measures with `measure(batch, resolution)` (a probe_train_step in practice; tests may fake
/// it) and plans. A measurement that runs out of memory ends the series at that batch.
Plan make_plan(const PlanOptions& options,
               const std::function<MemorySample(std::int64_t batch, std::int64_t resolution)>& measure);

/// make_plan for a stage on a device, measured with probe_train_step: at the largest size a step
/// sees (multi-scale: the largest scale), for `budget_bytes` (0: the device's total memory),
/// keeping the recipe's batch x accum. Out-of-memory measurements end the series. `on_sample`
/// sees each measurement as it is made (progress output).
Plan plan_stage(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                const c10::Device& device, std::int64_t budget_bytes,
                const std::function<void(const MemorySample&)>& on_sample = {});

/// What a stage's batch needs, for the report of a run whose memory could not be had.
struct MemoryNeed {
  /// "batch N at resolution R needs about X GiB; this machine has Y GiB" (this GPU, on CUDA), X
  /// extrapolated from steps measured at batches 1 and 2 (plan_stage); "needs more than" the
  /// images alone when a batch-1 step cannot be measured without risking the machine's memory
  /// (its images beyond a twentieth of it); "even batch 1 does not fit" when it does not.
  std::string text;
  std::int64_t fits_batch = 0;  ///< the largest batch that fits and divides batch x accum (0: none known)
  std::int64_t fits_accum = 0;  ///< the accum that keeps batch x accum with it
};
MemoryNeed memory_need(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                       const c10::Device& device, std::int64_t batch);

}  // namespace rtseg::framework::train
