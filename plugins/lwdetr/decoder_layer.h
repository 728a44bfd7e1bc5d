#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "rtseg/sdk/recompute.h"
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
  /// Rebuild activations in backward (sdk::recompute_in_backward) instead of holding them; only
  /// without dropout, whose draws a recompute would not repeat.
  sdk::RecomputePolicy recompute = sdk::RecomputePolicy::kNever;
  /// What is recomputed: the whole layer (least memory, slowest) or only the feed-forward block.
  bool recompute_whole_layer = false;
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
  torch::Tensor forward(const torch::Tensor& tgt, const torch::Tensor& query_pos,
                        const torch::Tensor& reference_points, const DecoderMemory& memory,
                        std::int64_t groups);

 private:
  torch::Tensor dropout(const torch::Tensor& x);
  /// The layer itself (forward runs it directly or through a recompute).
  torch::Tensor compute(torch::Tensor tgt, const torch::Tensor& query_pos, const torch::Tensor& reference_points,
                        const DecoderMemory& memory, std::int64_t groups);

  torch::Tensor feed_forward(const torch::Tensor& x);

  double dropout_;
  sdk::RecomputePolicy recompute_;
  bool recompute_whole_layer_;
  GroupSelfAttention self_attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr};
  MsDeformAttn cross_attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
  torch::nn::LayerNorm norm3_{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace rtseg::plugins::lwdetr
