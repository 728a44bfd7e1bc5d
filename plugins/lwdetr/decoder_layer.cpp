#include "decoder_layer.h"

#include <torch/nn/functional/dropout.h>

#include "rtseg/sdk/recompute.h"

namespace rtseg::plugins::lwdetr {

namespace F = torch::nn::functional;

DecoderLayerImpl::DecoderLayerImpl(const DecoderLayerOptions& options)
    : dropout_(options.dropout),
      recompute_(options.dropout > 0.0 ? sdk::RecomputePolicy::kNever : options.recompute),
      recompute_whole_layer_(options.recompute_whole_layer) {
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

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& tgt, const torch::Tensor& query_pos,
                                        const torch::Tensor& reference_points,
                                        const DecoderMemory& memory, std::int64_t groups) {
  if (!recompute_whole_layer_ || !sdk::recomputes(recompute_, tgt)) {
    return compute(tgt, query_pos, reference_points, memory, groups);
  }
  // Every query of every group passes through about twenty [N, d]-sized tensors here, and the
  // feed-forward block's [N, dim_feedforward]: the decoder's activations are a training step's
  // largest. Only the inputs are held; the price is the layer's many small kernels run twice.
  const auto self = std::static_pointer_cast<DecoderLayerImpl>(shared_from_this());
  const std::vector<LevelShape> shapes = memory.shapes;
  const bool padded = memory.padding.defined();
  const auto function = [self, shapes, padded, groups](const std::vector<torch::Tensor>& in) {
    const DecoderMemory replayed{in[3], padded ? in[4] : torch::Tensor(), shapes};
    return std::vector<torch::Tensor>{self->compute(in[0], in[1], in[2], replayed, groups)};
  };
  std::vector<torch::Tensor> inputs = {tgt, query_pos, reference_points, memory.memory};
  if (padded) inputs.push_back(memory.padding);
  return sdk::recompute_in_backward(function, inputs, parameters()).front();
}

torch::Tensor DecoderLayerImpl::compute(torch::Tensor tgt, const torch::Tensor& query_pos,
                                        const torch::Tensor& reference_points,
                                        const DecoderMemory& memory, std::int64_t groups) {
  const torch::Tensor query = tgt + query_pos;
  tgt = norm1_->forward(tgt + dropout(self_attn_->forward(query, tgt, groups)));
  const torch::Tensor attended = cross_attn_->forward(tgt + query_pos, reference_points,
                                                      memory.memory, memory.shapes, memory.padding);
  tgt = norm2_->forward(tgt + dropout(attended));
  return norm3_->forward(tgt + dropout(feed_forward(tgt)));
}

torch::Tensor DecoderLayerImpl::feed_forward(const torch::Tensor& x) {
  if (!sdk::recomputes(recompute_, x)) {
    return linear2_->forward(dropout(torch::relu(linear1_->forward(x))));
  }
  // The [N, dim_feedforward] hidden activations are the layer's largest; two matmuls are cheap
  // to redo next to holding them through the backward pass. Inside a whole-layer recompute this
  // nests: while backward rebuilds the layer, the block still holds only its input, which keeps
  // backward's transient peak a layer's [N, d] tensors rather than also its [N, 2048] ones.
  const auto linear1 = linear1_.ptr();  // shared pointers: a lambda's copies are const
  const auto linear2 = linear2_.ptr();
  const auto function = [linear1, linear2](const std::vector<torch::Tensor>& in) {
    return std::vector<torch::Tensor>{linear2->forward(torch::relu(linear1->forward(in[0])))};
  };
  std::vector<torch::Tensor> parameters = linear1->parameters();
  for (const auto& parameter : linear2->parameters()) parameters.push_back(parameter);
  return sdk::recompute_in_backward(function, {x}, parameters).front();
}

}  // namespace rtseg::plugins::lwdetr
