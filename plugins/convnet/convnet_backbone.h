#pragma once

#include <memory>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include "options.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/backbone.h"

namespace rtseg::plugins::convnet {

/// stem (3x3 stride 2) -> stages of [3x3 stride-2 conv, residual blocks] down to the output
/// stride -> 1x1 projection to hidden_dim -> GroupNorm. GroupNorm rather than BatchNorm: the
/// batches are small and padded.
class ConvNetBackbone final : public sdk::Backbone {
 public:
  ConvNetBackbone(const ConvNetOptions& options, std::int64_t hidden_dim);

  sdk::FeatureSpecs output_spec() const override;
  std::vector<torch::Tensor> forward(const torch::Tensor& images) override;
  std::int64_t size_divisibility() const override { return output_stride_; }

 private:
  std::int64_t output_stride_;
  std::int64_t hidden_dim_;
  torch::nn::Sequential stem_{nullptr};
  torch::nn::ModuleList stages_{nullptr};
  torch::nn::Conv2d projection_{nullptr};
  torch::nn::GroupNorm projection_norm_{nullptr};
};

std::unique_ptr<ConvNetBackbone> make_convnet(ConvNetOptions options, const sdk::BuildContext& context);

}  // namespace rtseg::plugins::convnet
