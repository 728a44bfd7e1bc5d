#include "decoder_layer.h"

#include <torch/nn/functional/dropout.h>

namespace rtseg::plugins::lwdetr {

namespace F = torch::nn::functional;

DecoderLayerImpl::DecoderLayerImpl(const DecoderLayerOptions& options) : dropout_(options.dropout) {
  const std::int64_t d = options.d_model;
  // Registration order follows RF-DETR's module order (state-dict order).
  self_attn_ = register_module("self_attn",
                               GroupSelfAttention(d, options.sa_nheads, options.dropout));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  cross_attn_ = register_module(
      "cross_attn", MsDeformAttn(d, options.n_levels, options.ca_nheads, options.n_points));
  linear1_ = register_module("linear1", torch::nn::Linear(d, options.dim_feedforward));
  linear2_ = register_module("linear2", torch::nn::Linear(options.dim_feedforward, d));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm3_ = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
}

torch::Tensor DecoderLayerImpl::dropout(const torch::Tensor& x) {
  if (dropout_ <= 0.0 || !is_training()) return x;
  return F::dropout(x, F::DropoutFuncOptions().p(dropout_).training(true));
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor tgt, const torch::Tensor& query_pos,
                                        const torch::Tensor& reference_points,
                                        const DecoderMemory& memory, std::int64_t groups) {
  const torch::Tensor query = tgt + query_pos;
  tgt = norm1_->forward(tgt + dropout(self_attn_->forward(query, tgt, groups)));
  const torch::Tensor attended = cross_attn_->forward(tgt + query_pos, reference_points,
                                                      memory.memory, memory.shapes, memory.padding);
  tgt = norm2_->forward(tgt + dropout(attended));
  const torch::Tensor ffn =
      linear2_->forward(dropout(torch::relu(linear1_->forward(tgt))));
  return norm3_->forward(tgt + dropout(ffn));
}

}  // namespace rtseg::plugins::lwdetr
