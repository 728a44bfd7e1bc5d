#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

namespace rtseg::plugins::lwdetr {

/// Linear layers with ReLU between them (none after the last): RF-DETR's `MLP`, whose
/// parameters are named layers.N.{weight,bias}.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(std::int64_t input_dim, std::int64_t hidden_dim, std::int64_t output_dim,
          std::int64_t num_layers);

  torch::Tensor forward(torch::Tensor x);

  /// The Linear at `index` (negative counts from the end).
  torch::nn::Linear layer(std::int64_t index) const;
  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers_->size()); }

 private:
  torch::nn::ModuleList layers_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace rtseg::plugins::lwdetr
