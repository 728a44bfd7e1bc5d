#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace rtseg::plugins::lwdetr {

/// Multi-head self-attention with nn.MultiheadAttention's parameters (in_proj_weight,
/// in_proj_bias, out_proj) and math, batch first, where the queries may be split into groups
/// that never attend to each other (group DETR): [B, G * Qg, d] is attended as B * G
/// independent sequences of Qg queries.
class GroupSelfAttentionImpl : public torch::nn::Module {
 public:
  GroupSelfAttentionImpl(std::int64_t embed_dim, std::int64_t num_heads, double dropout);

  /// query_key: [B, N, d] (queries and keys), value: [B, N, d]; N must be a multiple of groups.
  torch::Tensor forward(const torch::Tensor& query_key, const torch::Tensor& value,
                        std::int64_t groups);

 private:
  std::int64_t embed_dim_, num_heads_;
  double dropout_;
  torch::Tensor in_proj_weight_, in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(GroupSelfAttention);

}  // namespace rtseg::plugins::lwdetr
