#pragma once

#include <vector>

#include <torch/optim/adamw.h>

/// AdamW whose step updates every parameter with a handful of multi-tensor kernels instead of
/// about eight kernels per tensor: LibTorch's AdamW launches ~2,500 small kernels per step for
/// Nano, which on a GPU costs more host time than the update itself.
namespace rtseg::framework::train {

/// torch::optim::AdamW with the same options, state (AdamWParamState per parameter, so
/// checkpoints are interchangeable) and arithmetic, stepped as a whole:
/// - on CUDA with LibTorch >= 2.1, ATen's fused AdamW kernel, one call per parameter group;
/// - elsewhere, ATen's _foreach_ operations over all groups at once (per-tensor scalars carry
///   each group's learning rate and weight decay), giving the same values as AdamW bit for bit.
/// amsgrad falls back to the per-tensor algorithm.
class MultiTensorAdamW final : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  /// The per-parameter state, made on first use as AdamW makes it.
  torch::optim::AdamWParamState& state_of(const torch::Tensor& parameter);
  void fused_step();
  void foreach_step();
};

}  // namespace rtseg::framework::train
