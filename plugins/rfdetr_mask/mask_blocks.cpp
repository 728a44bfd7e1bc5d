#include "mask_blocks.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/recompute.h"

namespace rtseg::plugins::rfdetr_mask {

DepthwiseConvBlockImpl::DepthwiseConvBlockImpl(std::int64_t dim) {
  dwconv_ = register_module(
      "dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 3).padding(1).groups(dim)));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  pwconv1_ = register_module("pwconv1", torch::nn::Linear(dim, dim));
}

torch::Tensor DepthwiseConvBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = dwconv_->forward(x).permute({0, 2, 3, 1});  // channels last for the norm
  y = torch::gelu(pwconv1_->forward(norm_->forward(y)));
  return y.permute({0, 3, 1, 2}) + x;
}

MlpBlockImpl::MlpBlockImpl(std::int64_t dim) {
  norm_in_ = register_module("norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  // RF-DETR keeps Linear, GELU, Linear in one list: the linears are "layers.0" and "layers.2".
  torch::nn::ModuleList layers;
  expand_ = torch::nn::Linear(dim, 4 * dim);
  contract_ = torch::nn::Linear(4 * dim, dim);
  layers->push_back(expand_);
  layers->push_back(torch::nn::GELU());
  layers->push_back(contract_);
  register_module("layers", layers);
}

torch::Tensor MlpBlockImpl::forward(const torch::Tensor& x) {
  return contract_->forward(torch::gelu(expand_->forward(norm_in_->forward(x)))) + x;
}

std::int64_t checked_pixel_dim(const sdk::BuildContext& context, const std::string& head) {
  if (context.inputs.empty()) throw sdk::ConfigError(head + ": the backbone publishes no feature map.");
  if (context.decoder.num_layers < 1) throw sdk::ConfigError(head + ": the decoder has no layers.");
  const std::int64_t dim = context.inputs.front().channels;
  if (context.decoder.hidden_dim != dim) {
    throw sdk::ConfigError(head + ": the backbone's first map has " + std::to_string(dim) +
                           " channels but the decoder's queries have " +
                           std::to_string(context.decoder.hidden_dim) +
                           "; the dot product needs them equal (set model.hidden_dim).");
  }
  return dim;
}

DotProductParts DotProductParts::register_on(torch::nn::Module& owner, std::int64_t dim,
                                             std::int64_t num_layers) {
  DotProductParts parts;
  parts.blocks = owner.register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < num_layers; ++i) parts.blocks->push_back(DepthwiseConvBlock(dim));
  parts.spatial_features_proj = owner.register_module(
      "spatial_features_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 1)));
  parts.query_features_block = owner.register_module("query_features_block", MlpBlock(dim));
  parts.query_features_proj = owner.register_module("query_features_proj", torch::nn::Linear(dim, dim));
  parts.bias = owner.register_parameter("bias", torch::zeros({1}));
  return parts;
}

namespace {

// `module`'s forward on one tensor, recomputed in backward when `recompute` is set.
template <class Module>
torch::Tensor run(const std::shared_ptr<Module>& module, const torch::Tensor& x, sdk::RecomputePolicy recompute) {
  if (!sdk::recomputes(recompute, x)) return module->forward(x);
  const auto function = [module](const std::vector<torch::Tensor>& in) {
    return std::vector<torch::Tensor>{module->forward(in[0])};
  };
  return sdk::recompute_in_backward(function, {x}, module->parameters()).front();
}

}  // namespace

sdk::MaskOutputs DotProductParts::embed(const torch::Tensor& pixels,
                                        const sdk::DecoderOutputs& decoded) {
  // The query MLP runs on all queries of every group (the matcher scores them all), and the
  // blocks on full mask-resolution maps: both hold far more activations than they cost to redo.
  const auto query_mlp = query_features_block.ptr();  // shared pointers: a lambda's copies are const
  const auto query_proj = query_features_proj.ptr();
  auto queries = [&](const torch::Tensor& features) {
    if (!sdk::recomputes(recompute, features)) return query_proj->forward(query_mlp->forward(features));
    const auto function = [query_mlp, query_proj](const std::vector<torch::Tensor>& in) {
      return std::vector<torch::Tensor>{query_proj->forward(query_mlp->forward(in[0]))};
    };
    std::vector<torch::Tensor> parameters = query_mlp->parameters();
    for (const auto& parameter : query_proj->parameters()) parameters.push_back(parameter);
    return sdk::recompute_in_backward(function, {features}, parameters).front();
  };
  sdk::MaskOutputs out;
  torch::Tensor refined = pixels;
  const std::size_t layers = std::min<std::size_t>(blocks->size(), decoded.layers.size());
  for (std::size_t i = 0; i < layers; ++i) {
    auto block = blocks->ptr<DepthwiseConvBlockImpl>(i);
    refined = run(block, refined, recompute);
    out.layers.push_back(sdk::MaskEmbedding{spatial_features_proj->forward(refined),
                                            queries(decoded.layers[i].features), bias});
  }
  if (decoded.encoder.features.defined()) {
    out.encoder = sdk::MaskEmbedding{pixels, queries(decoded.encoder.features), bias};
  }
  return out;
}

sdk::MaskEmbedding DotProductParts::embed_final(const torch::Tensor& pixels,
                                               const sdk::DecoderOutputs& decoded) {
  const std::size_t layers = std::min<std::size_t>(blocks->size(), decoded.layers.size());
  torch::Tensor refined = pixels;
  for (std::size_t i = 0; i < layers; ++i) refined = blocks[i]->as<DepthwiseConvBlock>()->forward(refined);
  const torch::Tensor& features = decoded.layers.at(layers - 1).features;
  return sdk::MaskEmbedding{spatial_features_proj->forward(refined),
                            query_features_proj->forward(query_features_block->forward(features)), bias};
}

}  // namespace rtseg::plugins::rfdetr_mask
