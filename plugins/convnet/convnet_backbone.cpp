#include "convnet_backbone.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::convnet {
namespace {

// Appends 3x3 conv (stride) -> GroupNorm -> ReLU (flat: a Sequential cannot hold a Sequential).
void append_conv_norm_relu(torch::nn::Sequential& sequence, std::int64_t in, std::int64_t out, std::int64_t stride) {
  sequence->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  sequence->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, out)));
  sequence->push_back(torch::nn::ReLU(true));
}

torch::nn::Sequential conv_norm_relu(std::int64_t in, std::int64_t out, std::int64_t stride) {
  torch::nn::Sequential sequence;
  append_conv_norm_relu(sequence, in, out, stride);
  return sequence;
}

// x + conv-norm-relu-conv-norm(x), then ReLU.
struct ResidualBlockImpl : torch::nn::Module {
  explicit ResidualBlockImpl(std::int64_t channels) {
    first = register_module("first", conv_norm_relu(channels, channels, 1));
    second = register_module(
        "second", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1).bias(false)));
    norm = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, channels)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::relu(x + norm->forward(second->forward(first->forward(x))));
  }
  torch::nn::Sequential first{nullptr};
  torch::nn::Conv2d second{nullptr};
  torch::nn::GroupNorm norm{nullptr};
};
TORCH_MODULE(ResidualBlock);

}  // namespace

ConvNetBackbone::ConvNetBackbone(const ConvNetOptions& options, std::int64_t hidden_dim)
    : output_stride_(options.output_stride), hidden_dim_(hidden_dim) {
  stem_ = register_module("stem", conv_norm_relu(3, options.width, 2));
  stages_ = register_module("stages", torch::nn::ModuleList());
  std::int64_t channels = options.width;
  for (std::int64_t stride = 4; stride <= output_stride_; stride *= 2) {
    torch::nn::Sequential stage;
    append_conv_norm_relu(stage, channels, channels * 2, 2);
    channels *= 2;
    for (std::int64_t b = 0; b < options.blocks; ++b) stage->push_back(ResidualBlock(channels));
    stages_->push_back(stage);
  }
  projection_ = register_module("projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, hidden_dim, 1)));
  projection_norm_ = register_module("projection_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, hidden_dim)));
}

sdk::FeatureSpecs ConvNetBackbone::output_spec() const {
  return {{output_stride_ == 8 ? "p3" : "p4", hidden_dim_, output_stride_}};
}

std::vector<torch::Tensor> ConvNetBackbone::forward(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % output_stride_ != 0 ||
      images.size(3) % output_stride_ != 0) {
    throw sdk::Error("convnet backbone: expected images [B, 3, H, W] with H and W multiples of " +
                     std::to_string(output_stride_) + " (output_stride)");
  }
  torch::Tensor x = stem_->forward(images);
  for (const auto& stage : *stages_) x = stage->as<torch::nn::Sequential>()->forward(x);
  return {projection_norm_->forward(projection_->forward(x))};
}

std::unique_ptr<ConvNetBackbone> make_convnet(ConvNetOptions options, const sdk::BuildContext& context) {
  if (context.model.hidden_dim <= 0 || context.model.hidden_dim % 8 != 0) {
    throw sdk::ConfigError("model.hidden_dim must be a positive multiple of 8 for the convnet backbone (got " +
                           std::to_string(context.model.hidden_dim) + ").");
  }
  return std::make_unique<ConvNetBackbone>(options, context.model.hidden_dim);
}

}  // namespace rtseg::plugins::convnet
