#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include "decoder_layer.h"
#include "mlp.h"

namespace rtseg::plugins::lwdetr {

/// What the decoder stack returns.
struct DecoderStackOutput {
  std::vector<torch::Tensor> hidden;      ///< per layer: normed output [B, N, d]
  /// Reference boxes each layer's box deltas are applied to ([B, N, 4], unsigmoided unless
  /// bbox_reparam). With lite refinement every layer uses the initial boxes.
  std::vector<torch::Tensor> references;
};

/// RF-DETR's TransformerDecoder (module `transformer.decoder`): the layers, the output norm
/// and ref_point_head, the MLP that turns the sine embedding of a reference box into query_pos.
class TransformerDecoderImpl : public torch::nn::Module {
 public:
  TransformerDecoderImpl(const DecoderLayerOptions& layer_options, std::int64_t num_layers,
                         bool layer_norm, bool lite_refpoint_refine, bool bbox_reparam);

  /// Without lite refinement the decoder refines its reference boxes with the model's box head,
  /// which RF-DETR also registers here as `bbox_embed` (the same module, so the same parameters).
  void share_bbox_embed(Mlp bbox_embed);

  /// tgt: [B, N, d]; refpoints: [B, N, 4] initial boxes; valid_ratios: [B, L, 2];
  /// groups: query groups that must not attend to each other.
  DecoderStackOutput forward(const torch::Tensor& tgt, const torch::Tensor& refpoints,
                             const DecoderMemory& memory, const torch::Tensor& valid_ratios,
                             std::int64_t groups);

  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers_->size()); }
  /// The layer modules, for initialisation.
  const torch::nn::ModuleList& layers() const { return layers_; }

 private:
  struct Reference {
    torch::Tensor per_level;  ///< [B, N, L, 4] boxes scaled by each level's valid ratios
    torch::Tensor query_pos;  ///< [B, N, d]
  };
  Reference reference_for(const torch::Tensor& boxes, const torch::Tensor& valid_ratios);

  Reference compute_reference(const torch::Tensor& boxes, const torch::Tensor& valid_ratios);

  std::int64_t d_model_;
  bool lite_refpoint_refine_, bbox_reparam_;
  sdk::RecomputePolicy recompute_;
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};  // empty for decoder_norm = "Identity"
  Mlp ref_point_head_{nullptr};
  Mlp bbox_embed_{nullptr};
};
TORCH_MODULE(TransformerDecoder);

}  // namespace rtseg::plugins::lwdetr
