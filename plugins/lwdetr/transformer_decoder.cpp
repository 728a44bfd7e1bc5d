#include "transformer_decoder.h"

#include <torch/nn/modules/linear.h>

#include "box_delta.h"
#include "sine_embedding.h"

namespace rtseg::plugins::lwdetr {

TransformerDecoderImpl::TransformerDecoderImpl(const DecoderLayerOptions& layer_options,
                                               std::int64_t num_layers, bool layer_norm,
                                               bool lite_refpoint_refine, bool bbox_reparam)
    : d_model_(layer_options.d_model),
      lite_refpoint_refine_(lite_refpoint_refine),
      bbox_reparam_(bbox_reparam),
      recompute_(layer_options.recompute) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < num_layers; ++i) layers_->push_back(DecoderLayer(layer_options));
  if (layer_norm) {
    norm_ = register_module("norm",
                            torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model_})));
  } else {
    register_module("norm", torch::nn::Identity());  // no parameters, as in RF-DETR
  }
  ref_point_head_ = register_module("ref_point_head", Mlp(2 * d_model_, d_model_, d_model_, 2));
}

void TransformerDecoderImpl::share_bbox_embed(Mlp bbox_embed) {
  bbox_embed_ = register_module("bbox_embed", std::move(bbox_embed));
}

TransformerDecoderImpl::Reference TransformerDecoderImpl::reference_for(
    const torch::Tensor& boxes, const torch::Tensor& valid_ratios) {
  if (!sdk::recomputes(recompute_, boxes)) return compute_reference(boxes, valid_ratios);
  // The sine embedding of every query's box ([B, 13 x Q, 2d] and its sin/cos inputs) and the
  // MLP's hidden values, rebuilt in backward from the [B, 13 x Q, 4] boxes.
  const auto self = std::static_pointer_cast<TransformerDecoderImpl>(shared_from_this());
  const auto function = [self](const std::vector<torch::Tensor>& in) {
    const Reference reference = self->compute_reference(in[0], in[1]);
    return std::vector<torch::Tensor>{reference.per_level, reference.query_pos};
  };
  const auto out = sdk::recompute_in_backward(function, {boxes, valid_ratios}, ref_point_head_->parameters());
  return {out[0], out[1]};
}

TransformerDecoderImpl::Reference TransformerDecoderImpl::compute_reference(
    const torch::Tensor& boxes, const torch::Tensor& valid_ratios) {
  // Boxes are relative to the valid area; each level reads them relative to its whole map.
  const torch::Tensor per_level =
      boxes.unsqueeze(2) * torch::cat({valid_ratios, valid_ratios}, -1).unsqueeze(1);
  // The positional query comes from level 0's box (d/2 features per coordinate).
  const torch::Tensor sine = sine_position_embedding(per_level.select(2, 0), d_model_ / 2);
  return {per_level, ref_point_head_->forward(sine)};
}

DecoderStackOutput TransformerDecoderImpl::forward(const torch::Tensor& tgt,
                                                   const torch::Tensor& refpoints,
                                                   const DecoderMemory& memory,
                                                   const torch::Tensor& valid_ratios,
                                                   std::int64_t groups) {
  auto norm = [&](const torch::Tensor& x) { return norm_ ? norm_->forward(x) : x; };
  auto boxes_for_reference = [&](const torch::Tensor& boxes) {
    return bbox_reparam_ ? boxes : boxes.sigmoid();
  };

  DecoderStackOutput out;
  torch::Tensor output = tgt;
  torch::Tensor boxes = refpoints;
  out.references.push_back(boxes);
  Reference reference;
  if (lite_refpoint_refine_) reference = reference_for(boxes_for_reference(boxes), valid_ratios);

  const std::int64_t count = num_layers();
  for (std::int64_t i = 0; i < count; ++i) {
    if (!lite_refpoint_refine_) reference = reference_for(boxes_for_reference(boxes), valid_ratios);
    output = layers_->ptr<DecoderLayerImpl>(static_cast<std::size_t>(i))
                 ->forward(output, reference.query_pos, reference.per_level, memory, groups);
    if (!lite_refpoint_refine_) {
      // Iterative refinement from the un-normed layer output; later layers see detached boxes.
      const torch::Tensor refined =
          apply_box_delta(boxes, bbox_embed_->forward(output), bbox_reparam_);
      if (i != count - 1) out.references.push_back(refined);
      boxes = refined.detach();
    }
    out.hidden.push_back(norm(output));
  }
  if (lite_refpoint_refine_) out.references.assign(static_cast<std::size_t>(count), refpoints);
  return out;
}

}  // namespace rtseg::plugins::lwdetr
