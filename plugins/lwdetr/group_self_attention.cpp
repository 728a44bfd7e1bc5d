#include "group_self_attention.h"

#include <cmath>
#include <limits>
#include <string>

#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/init.h>
#include <torch/version.h>

#include "rtseg/sdk/errors.h"

namespace rtseg::plugins::lwdetr {

namespace F = torch::nn::functional;

#if TORCH_VERSION_MAJOR < 2
// Queries per group up to which LibTorch 1.13 attends over all groups in one masked product.
constexpr std::int64_t kLargestMaskedGroup = 64;
#endif

GroupSelfAttentionImpl::GroupSelfAttentionImpl(std::int64_t embed_dim, std::int64_t num_heads,
                                               double dropout)
    : embed_dim_(embed_dim), num_heads_(num_heads), dropout_(dropout) {
  if (embed_dim % num_heads != 0) {
    throw sdk::ConfigError("self-attention: embed_dim " + std::to_string(embed_dim) +
                           " is not divisible by the " + std::to_string(num_heads) + " heads.");
  }
  in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * embed_dim, embed_dim}));
  in_proj_bias_ = register_parameter("in_proj_bias", torch::empty({3 * embed_dim}));
  out_proj_ = register_module("out_proj", torch::nn::Linear(embed_dim, embed_dim));
  // nn.MultiheadAttention's own initialisation.
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight_);
  torch::nn::init::zeros_(in_proj_bias_);
  torch::nn::init::zeros_(out_proj_->bias);
}

torch::Tensor GroupSelfAttentionImpl::forward(const torch::Tensor& query_key,
                                              const torch::Tensor& value, std::int64_t groups) {
  const std::int64_t batch = query_key.size(0);
  const std::int64_t length = query_key.size(1);
  const std::int64_t head_dim = embed_dim_ / num_heads_;
  if (groups < 1 || length % groups != 0) {
    throw sdk::Error("self-attention: " + std::to_string(length) +
                     " queries cannot be split into " + std::to_string(groups) + " groups.");
  }
  const std::int64_t group_length = length / groups;

  // q and k share their input, so one matmul gives both.
  const torch::Tensor qk = F::linear(query_key, in_proj_weight_.narrow(0, 0, 2 * embed_dim_),
                                     in_proj_bias_.narrow(0, 0, 2 * embed_dim_));
  const torch::Tensor v = F::linear(value, in_proj_weight_.narrow(0, 2 * embed_dim_, embed_dim_),
                                    in_proj_bias_.narrow(0, 2 * embed_dim_, embed_dim_));
  const double dropout = is_training() ? dropout_ : 0.0;
#if TORCH_VERSION_MAJOR >= 2
  // [B, G * Qg, heads * hd] -> [B * G, heads, Qg, hd]
  auto split_heads = [&](const torch::Tensor& x) {
    return x.reshape({batch * groups, group_length, num_heads_, head_dim}).transpose(1, 2);
  };
  const torch::Tensor attended = at::scaled_dot_product_attention(
      split_heads(qk.narrow(-1, 0, embed_dim_)), split_heads(qk.narrow(-1, embed_dim_, embed_dim_)), split_heads(v),
      {}, dropout);
  // [B * G, heads, Qg, hd] -> [B, G * Qg, d]
  return out_proj_->forward(attended.transpose(1, 2).reshape({batch, length, embed_dim_}));
#else
  // PyTorch 1.13's MultiheadAttention: scale q, softmax(q k^T), dropout, times v. Small groups
  // (the quickstart's 30 queries) go all at once, [B, heads, G * Qg, hd], with the scores between
  // different groups masked out: LibTorch 1.13's CPU bmm runs one product per batch entry, and
  // B x G x heads tiny products cost far more in calls than the masked-out entries cost in
  // arithmetic. Large groups (RF-DETR's 300 queries) keep one product per group: G x more
  // scores would cost more than the calls.
  const bool all_groups_at_once = groups > 1 && group_length <= kLargestMaskedGroup;
  const std::int64_t products = all_groups_at_once ? batch : batch * groups;
  const std::int64_t rows = all_groups_at_once ? length : group_length;
  auto split_heads = [&](const torch::Tensor& x) {  // -> [products, heads, rows, hd]
    return x.reshape({products, rows, num_heads_, head_dim}).transpose(1, 2);
  };
  const torch::Tensor q = split_heads(qk.narrow(-1, 0, embed_dim_));
  const torch::Tensor k = split_heads(qk.narrow(-1, embed_dim_, embed_dim_));
  torch::Tensor scores = torch::matmul(q / std::sqrt(static_cast<double>(head_dim)), k.transpose(-2, -1));
  if (all_groups_at_once) {
    const torch::Tensor group = torch::arange(length, scores.device()).div(group_length, "floor");
    scores = scores.masked_fill(group.unsqueeze(1) != group.unsqueeze(0), -std::numeric_limits<double>::infinity());
  }
  torch::Tensor weights = scores.softmax(-1);
  if (dropout > 0.0) {
    weights = F::dropout(weights, F::DropoutFuncOptions().p(dropout).training(true));
  }
  // [products, heads, rows, hd] -> [B, G * Qg, d]
  const torch::Tensor attended = torch::matmul(weights, split_heads(v));
  return out_proj_->forward(attended.transpose(1, 2).reshape({batch, length, embed_dim_}));
#endif
}

}  // namespace rtseg::plugins::lwdetr
