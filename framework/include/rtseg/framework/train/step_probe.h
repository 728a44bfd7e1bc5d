#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <c10/core/Device.h>

#include "rtseg/framework/device_memory.h"
#include "rtseg/framework/recipe.h"

namespace rtseg::framework {
class Registry;
}

/// Measuring real training steps: what bench/train_step reports and what the memory planner
/// fits. A probe holds everything a run holds -- model, AdamW state, EMA, loss scaler, the
/// stage's freezes, AMP and gradient checkpointing as the recipe sets them -- and trains on
/// synthetic batches of the recipe's shape, so no dataset is read.
namespace rtseg::framework::train {

struct ProbeSettings {
  std::int64_t batch = 1;
  std::int64_t resolution = 0;         ///< square input side; 0: the recipe's model.resolution
  std::int64_t objects_per_image = 6;  ///< boxes (and masks) per synthetic image
  std::int64_t warmup_steps = 2;       ///< not timed (allocator and kernel warm-up)
  std::int64_t timed_steps = 5;
  std::uint64_t seed = 0;
};

struct ProbeResult {
  std::int64_t batch = 0;
  std::int64_t resolution = 0;
  std::string amp;                  ///< the AMP mode the recipe resolved to on this device
  bool gradient_checkpointing = false;
  std::int64_t parameter_groups = 0;
  std::int64_t trainable_parameters = 0;
  double step_ms = 0;               ///< median over the timed steps
  double images_per_second = 0;     ///< batch / median step time
  MemoryPeak peak;                  ///< over the timed steps
  MemoryPeak held;                  ///< after building model, optimizer and EMA, before any step
  /// Peak within each phase of a step (forward, loss, backward, optimizer), largest over the
  /// timed steps, in the order the phases run.
  std::vector<std::pair<std::string, MemoryPeak>> phases;
  /// Mean milliseconds of each phase over the timed steps, same order (the device is
  /// synchronised at each phase boundary, so GPU phases are timed where their work runs).
  std::vector<std::pair<std::string, double>> phase_ms;
};

/// Builds the stage's model on `device` and trains it for warmup + timed steps at the settings'
/// batch and resolution. Throws what training would throw (c10::OutOfMemoryError included on
/// CUDA -- the planner catches it).
ProbeResult probe_train_step(const Registry& registry, const Stage& stage, const CheckedRecipe& recipe,
                             const c10::Device& device, const ProbeSettings& settings);

}  // namespace rtseg::framework::train
