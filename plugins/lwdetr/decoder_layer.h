#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "group_self_attention.h"
#include "levels.h"
#include "ms_deform_attn.h"

namespace rtseg::plugins::lwdetr {

struct DecoderLayerOptions {
  std::int64_t d_model = 256;
  std::int64_t sa_nheads = 8;
  std::int64_t ca_nheads = 16;
  std::int64_t dim_feedforward = 2048;
  std::int64_t n_levels = 1;
  std::int64_t n_points = 2;
  double dropout = 0.0;
};

/// Memory the cross-attention reads, shared by all layers of one forward pass.
struct DecoderMemory {
  torch::Tensor memory;             ///< [B, S, d]
  torch::Tensor padding;            ///< [B, S] bool
  std::vector<LevelShape> shapes;
};

/// One post-norm LW-DETR decoder layer (RF-DETR's TransformerDecoderLayer.forward_post):
/// grouped self-attention (q = k = tgt + query_pos, v = tgt), add & norm1; deformable
/// cross-attention from tgt + query_pos around the reference boxes, add & norm2; ReLU FFN,
/// add & norm3.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const DecoderLayerOptions& options);

  /// tgt, query_pos: [B, N, d]; reference_points: [B, N, L, 4]; groups: query groups in tgt.
  torch::Tensor forward(torch::Tensor tgt, const torch::Tensor& query_pos,
                        const torch::Tensor& reference_points, const DecoderMemory& memory,
                        std::int64_t groups);

 private:
  torch::Tensor dropout(const torch::Tensor& x);

  double dropout_;
  GroupSelfAttention self_attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr};
  MsDeformAttn cross_attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
  torch::nn::LayerNorm norm3_{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace rtseg::plugins::lwdetr
