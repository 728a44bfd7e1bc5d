#include "detail_stem.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

namespace rtseg::plugins::hires_mask {
namespace {

// LayerNorm over the channels of an NCHW map (a GroupNorm with one group normalises over C, H and
// W together, which is not the same).
class ChannelNormImpl : public torch::nn::Module {
 public:
  explicit ChannelNormImpl(std::int64_t channels) {
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels}).eps(1e-6)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return norm_->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
  }

 private:
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ChannelNorm);

}  // namespace

DetailStemImpl::DetailStemImpl(std::int64_t out_channels, std::int64_t stride) {
  layers_ = register_module("layers", torch::nn::Sequential());
  std::int64_t in = 3;
  std::int64_t channels = out_channels / 2;
  for (std::int64_t reached = 1; reached < stride; reached *= 2) {
    const bool last = reached * 2 == stride;
    const std::int64_t out = last ? out_channels : channels;
    layers_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
    layers_->push_back(ChannelNorm(out));
    layers_->push_back(torch::nn::GELU());
    in = out;
  }
}

torch::Tensor DetailStemImpl::forward(const torch::Tensor& images) { return layers_->forward(images); }

}  // namespace rtseg::plugins::hires_mask
