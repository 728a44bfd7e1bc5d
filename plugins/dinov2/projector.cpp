#include "projector.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/silu.h>

namespace rtseg::plugins::dinov2 {

ChannelLayerNorm::ChannelLayerNorm(std::int64_t channels, double eps)
    : channels_(channels), eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({channels}));
  bias_ = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor ChannelLayerNorm::forward(const torch::Tensor& x) {
  return at::layer_norm(x.permute({0, 2, 3, 1}), {channels_}, weight_, bias_, eps_)
      .permute({0, 3, 1, 2});
}

ConvX::ConvX(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
             Activation activation)
    : activation_(activation) {
  conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                                                        .stride(stride)
                                                        .padding(kernel / 2)
                                                        .bias(false)));
  bn_ = register_module("bn", std::make_shared<ChannelLayerNorm>(out));
}

torch::Tensor ConvX::forward(const torch::Tensor& x) {
  const torch::Tensor normed = bn_->forward(conv_->forward(x.contiguous()));
  return activation_ == Activation::kRelu ? at::relu(normed) : at::silu(normed);
}

Bottleneck::Bottleneck(std::int64_t channels) {
  cv1_ =
      register_module("cv1", std::make_shared<ConvX>(channels, channels, 3, 1, Activation::kSilu));
  cv2_ =
      register_module("cv2", std::make_shared<ConvX>(channels, channels, 3, 1, Activation::kSilu));
}

C2f::C2f(std::int64_t in, std::int64_t out, std::int64_t blocks) : hidden_(out / 2) {
  cv1_ = register_module("cv1", std::make_shared<ConvX>(in, 2 * hidden_, 1, 1, Activation::kSilu));
  cv2_ = register_module(
      "cv2", std::make_shared<ConvX>((2 + blocks) * hidden_, out, 1, 1, Activation::kSilu));
  torch::nn::ModuleList chain;
  for (std::int64_t i = 0; i < blocks; ++i) {
    blocks_.push_back(std::make_shared<Bottleneck>(hidden_));
    chain->push_back(blocks_.back());
  }
  register_module("m", chain);
}

torch::Tensor C2f::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> pieces = cv1_->forward(x).split(hidden_, 1);
  for (const auto& block : blocks_) pieces.push_back(block->forward(pieces.back()));
  return cv2_->forward(at::cat(pieces, 1));
}

MultiScaleProjector::MultiScaleProjector(std::vector<std::int64_t> in_channels,
                                         std::int64_t out_channels,
                                         const std::vector<std::string>& scales,
                                         std::int64_t blocks) {
  torch::nn::ModuleList sampling_list;
  torch::nn::ModuleList stage_list;
  for (const std::string& scale : scales) {
    if (scale == "P6") {
      extra_pool_ = true;
      continue;
    }
    Level level;
    level.resample = scale == "P3"   ? Resample::kUp2
                     : scale == "P4" ? Resample::kSame
                                     : Resample::kDown2;
    torch::nn::ModuleList per_input;
    std::int64_t fused_channels = 0;
    for (const std::int64_t channels : in_channels) {
      torch::nn::Sequential sampler;  // stays empty for P4 (no parameters, like RF-DETR's)
      if (level.resample == Resample::kUp2) {
        level.up.emplace_back(
            torch::nn::ConvTranspose2dOptions(channels, channels / 2, 2).stride(2));
        sampler->push_back(level.up.back());
        fused_channels += channels / 2;
      } else if (level.resample == Resample::kDown2) {
        level.down.push_back(std::make_shared<ConvX>(channels, channels, 3, 2, Activation::kRelu));
        sampler->push_back(level.down.back());
        fused_channels += channels;
      } else {
        fused_channels += channels;
      }
      per_input->push_back(sampler);
    }
    sampling_list->push_back(per_input);

    level.fuse = std::make_shared<C2f>(fused_channels, out_channels, blocks);
    level.norm = std::make_shared<ChannelLayerNorm>(out_channels);
    torch::nn::Sequential stage;
    stage->push_back(level.fuse);
    stage->push_back(level.norm);
    stage_list->push_back(stage);
    levels_.push_back(std::move(level));
  }
  register_module("stages_sampling", sampling_list);
  register_module("stages", stage_list);
}

std::vector<torch::Tensor> MultiScaleProjector::forward(const std::vector<torch::Tensor>& maps) {
  std::vector<torch::Tensor> results;
  results.reserve(levels_.size() + (extra_pool_ ? 1 : 0));
  std::vector<torch::Tensor> resampled(maps.size());
  for (Level& level : levels_) {
    for (std::size_t j = 0; j < maps.size(); ++j) {
      switch (level.resample) {
        case Resample::kUp2:
          resampled[j] = level.up[j]->forward(maps[j]);
          break;
        case Resample::kDown2:
          resampled[j] = level.down[j]->forward(maps[j]);
          break;
        case Resample::kSame:
          resampled[j] = maps[j];
          break;
      }
    }
    const torch::Tensor fused = resampled.size() > 1 ? at::cat(resampled, 1) : resampled.front();
    results.push_back(level.norm->forward(level.fuse->forward(fused)));
  }
  if (extra_pool_) results.push_back(at::max_pool2d(results.back(), {1, 1}, {2, 2}, {0, 0}));
  return results;
}

}  // namespace rtseg::plugins::dinov2
