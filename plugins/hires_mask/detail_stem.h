#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

namespace rtseg::plugins::hires_mask {

/// A light convolutional path on the image itself: stride-2 3x3 convs, each followed by a
/// channel LayerNorm and GELU, down to `stride` (4 or 8). It carries the edges that a stride-16
/// projector map, upsampled, cannot.
class DetailStemImpl : public torch::nn::Module {
 public:
  DetailStemImpl(std::int64_t out_channels, std::int64_t stride);
  torch::Tensor forward(const torch::Tensor& images);

 private:
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(DetailStem);

}  // namespace rtseg::plugins::hires_mask
