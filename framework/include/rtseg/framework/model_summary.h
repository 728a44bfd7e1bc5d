#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/framework/model.h"

namespace rtseg::framework {

/// Parameter counts of one component (elements, not tensors).
struct ComponentSummary {
  std::string kind;    ///< "backbone", "decoder", "seg_head"
  std::string prefix;  ///< where its weights live ("backbone.0", "" = root)
  std::int64_t total = 0;
  std::int64_t trainable = 0;  ///< requires_grad
  std::int64_t inference = 0;  ///< used by the inference path (no extra query groups)
};

/// What `rtseg inspect` reports about a model.
struct ModelSummary {
  std::vector<ComponentSummary> components;
  std::int64_t total = 0;
  std::int64_t trainable = 0;
  std::int64_t inference = 0;
  std::int64_t resolution = 0;
  std::vector<std::string> outputs;  ///< probe_model()'s lines
  /// Forward FLOPs of one image at `resolution` in eval mode (multiply-adds count 2), from
  /// LibTorch's profiler: matrix products and convolutions, which are nearly all of the work.
  double forward_flops = 0;
};

/// Counts, output shapes and a FLOP estimate. Runs the model once (eval mode, batch 1, CPU-side
/// profiling) and leaves it in eval mode.
ModelSummary summarize_model(Model& model, std::int64_t resolution);

}  // namespace rtseg::framework
