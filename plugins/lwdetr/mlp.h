#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "rtseg/sdk/recompute.h"

namespace rtseg::plugins::lwdetr {

/// Linear layers with ReLU between them (none after the last): RF-DETR's `MLP`, whose
/// parameters are named layers.N.{weight,bias}.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(std::int64_t input_dim, std::int64_t hidden_dim, std::int64_t output_dim,
          std::int64_t num_layers);

  torch::Tensor forward(const torch::Tensor& x);

  /// Run again in backward instead of holding the hidden activations (a head on every query of
  /// every group holds two [B, 13 x Q, hidden] tensors otherwise); only the input is held.
  void set_recompute(sdk::RecomputePolicy policy) { recompute_ = policy; }

  /// The Linear at `index` (negative counts from the end).
  torch::nn::Linear layer(std::int64_t index) const;
  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers_->size()); }

 private:
  torch::Tensor run(torch::Tensor x);

  torch::nn::ModuleList layers_{nullptr};
  sdk::RecomputePolicy recompute_ = sdk::RecomputePolicy::kNever;
};
TORCH_MODULE(Mlp);

}  // namespace rtseg::plugins::lwdetr
