#pragma once

// Building blocks of RF-DETR's dot-product mask head. The hires_mask plugin compiles them in too
// (it links this plugin's object library; each plugin library keeps its own hidden copy).

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "rtseg/sdk/recompute.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/seg_head.h"

namespace rtseg::plugins::rfdetr_mask {

/// ConvNeXt-style block without the MLP: depthwise 3x3 -> LayerNorm over channels (eps 1e-6) ->
/// pointwise linear -> GELU, plus the input.
class DepthwiseConvBlockImpl : public torch::nn::Module {
 public:
  explicit DepthwiseConvBlockImpl(std::int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d dwconv_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear pwconv1_{nullptr};
};
TORCH_MODULE(DepthwiseConvBlock);

/// Pre-norm MLP with a 4x expansion and a residual: x + Linear(GELU(Linear(LayerNorm(x)))).
class MlpBlockImpl : public torch::nn::Module {
 public:
  explicit MlpBlockImpl(std::int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm_in_{nullptr};
  torch::nn::Linear expand_{nullptr}, contract_{nullptr};
};
TORCH_MODULE(MlpBlock);

/// The channel count of the first backbone map, checked against what a dot-product head needs
/// (a map to read, decoder layers, and queries of the same width). `head` names the head in errors.
std::int64_t checked_pixel_dim(const sdk::BuildContext& context, const std::string& head);

/// The query/pixel machinery of RF-DETR's head: one depthwise block per decoder layer (applied
/// cumulatively), the 1x1 pixel projection, the query MLP and projection, and the scalar bias.
/// Registered directly on the owning head so that parameter names stay RF-DETR's
/// (segmentation_head.blocks.N..., segmentation_head.bias).
struct DotProductParts {
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Conv2d spatial_features_proj{nullptr};
  MlpBlock query_features_block{nullptr};
  torch::nn::Linear query_features_proj{nullptr};
  torch::Tensor bias;
  /// Recompute each block and each query MLP in backward instead of holding their activations
  /// (see sdk::recompute_in_backward): the head then holds little more than its inputs and
  /// outputs while the rest of the backward pass runs.
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kNever;

  static DotProductParts register_on(torch::nn::Module& owner, std::int64_t dim,
                                     std::int64_t num_layers);

  /// `pixels`: the pixel map at mask resolution [B, D, h, w]. Layer l uses the map after blocks
  /// 0..l; proposal queries use `pixels` as given (RF-DETR skips the blocks and projection there).
  sdk::MaskOutputs embed(const torch::Tensor& pixels, const sdk::DecoderOutputs& decoded);
  /// The final decoder layer's masks only (inference): the blocks still run, the per-layer
  /// projections and the proposal masks do not.
  sdk::MaskEmbedding embed_final(const torch::Tensor& pixels, const sdk::DecoderOutputs& decoded);
};

}  // namespace rtseg::plugins::rfdetr_mask
