#include "vit_layer.h"

#include <cmath>

#include <ATen/ops/gelu.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/softmax.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/ops/scaled_dot_product_attention.h>
#define RTSEG_HAS_SDPA 1
#else
#define RTSEG_HAS_SDPA 0
#endif

#include "init.h"
#include "rtseg/sdk/autocast.h"
#include "rtseg/sdk/recompute.h"

namespace rtseg::plugins::dinov2 {

VitSelfAttention::VitSelfAttention(std::int64_t hidden_size, std::int64_t num_heads)
    : num_heads_(num_heads), head_dim_(hidden_size / num_heads) {
  const auto linear = [&](const char* name) {
    return register_module(name, torch::nn::Linear(hidden_size, hidden_size));
  };
  query_ = linear("query");
  key_ = linear("key");
  value_ = linear("value");
}

torch::Tensor VitSelfAttention::forward(const torch::Tensor& input) {
  // One cast for the three projections (autocast would cast for each, and each would hold it).
  const torch::Tensor x = sdk::autocast_input(input);
  const std::int64_t n = x.size(0);
  const std::int64_t tokens = x.size(1);
  const auto heads = [&](const torch::Tensor& t) {
    return t.view({n, tokens, num_heads_, head_dim_}).permute({0, 2, 1, 3});
  };
  const torch::Tensor q = heads(query_->forward(x));
  const torch::Tensor k = heads(key_->forward(x));
  const torch::Tensor v = heads(value_->forward(x));
#if RTSEG_HAS_SDPA
  // On a GPU, fused attention: the [heads, T, T] probabilities are never held for backward
  // (the largest activation of the backbone) and it is faster. The CPU keeps the eager form below.
  if (q.is_cuda()) {
    return at::scaled_dot_product_attention(q, k, v).permute({0, 2, 1, 3}).contiguous().view({n, tokens, -1});
  }
#endif
  // Divide the scores (not q) by sqrt(d), as the reference does, for bit-level agreement.
  const torch::Tensor scores =
      at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim_));
  const torch::Tensor probs = at::softmax(scores, -1);
  return at::matmul(probs, v).permute({0, 2, 1, 3}).contiguous().view({n, tokens, -1});
}

LayerScale::LayerScale(std::int64_t hidden_size, double init) {
  lambda1_ = register_parameter("lambda1", torch::full({hidden_size}, init));
}

void LayerScale::reset(double init) {
  torch::NoGradGuard no_grad;
  lambda1_.fill_(init);
}

DropPathMasks DropPathMasks::draw(const torch::Tensor& like, double drop_prob) {
  DropPathMasks masks;
  masks.keep_prob = 1.0 - drop_prob;
  const auto options = like.options().requires_grad(false);
  masks.attention = (at::rand({like.size(0), 1, 1}, options) + masks.keep_prob).floor_();
  masks.mlp = (at::rand({like.size(0), 1, 1}, options) + masks.keep_prob).floor_();
  return masks;
}

VitLayer::VitLayer(const VitConfig& config)
    : windows_squared_(config.num_windows * config.num_windows), recompute_mlp_(config.recompute_mlp) {
  const std::int64_t c = config.hidden_size;
  const auto layer_norm = [&](const char* name) {
    return register_module(
        name, torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(config.layer_norm_eps)));
  };
  norm1_ = layer_norm("norm1");
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  self_attention_ = attention->register_module(
      "attention", std::make_shared<VitSelfAttention>(c, config.num_heads));
  auto output = attention->register_module("output", std::make_shared<torch::nn::Module>());
  output_dense_ = output->register_module("dense", torch::nn::Linear(c, c));
  layer_scale1_ =
      register_module("layer_scale1", std::make_shared<LayerScale>(c, config.layer_scale_init));
  norm2_ = layer_norm("norm2");
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(c, c * config.mlp_ratio));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(c * config.mlp_ratio, c));
  layer_scale2_ =
      register_module("layer_scale2", std::make_shared<LayerScale>(c, config.layer_scale_init));
  reset_parameters(config.layer_scale_init);
}

void VitLayer::reset_parameters(double layer_scale_init) {
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* impl = module->as<torch::nn::Linear>()) {
      trunc_normal_(impl->weight, 0.02);
      impl->bias.zero_();
    }
  }
  for (auto* norm : {norm1_.get(), norm2_.get()}) {
    norm->weight.fill_(1.0);
    norm->bias.zero_();
  }
  layer_scale1_->reset(layer_scale_init);
  layer_scale2_->reset(layer_scale_init);
}

torch::Tensor VitLayer::forward(const torch::Tensor& x, bool full_attention,
                                const DropPathMasks& masks) {
  const bool merge_windows = full_attention && windows_squared_ > 1;
  const torch::Tensor attention_in =
      merge_windows ? x.reshape({x.size(0) / windows_squared_, -1, x.size(2)}) : x;
  torch::Tensor branch =
      output_dense_->forward(self_attention_->forward(norm1_->forward(attention_in)));
  if (merge_windows) branch = branch.reshape(x.sizes());
  branch = layer_scale1_->forward(branch);
  if (masks.attention.defined()) branch = branch.div(masks.keep_prob) * masks.attention;
  const torch::Tensor hidden = branch + x;

  branch = layer_scale2_->forward(mlp(hidden));
  if (masks.mlp.defined()) branch = branch.div(masks.keep_prob) * masks.mlp;
  return branch + hidden;
}

torch::Tensor VitLayer::mlp(const torch::Tensor& hidden) {
  // Shared pointers, not module holders: a lambda's copies are const, a holder's -> then too.
  const auto norm = norm2_.ptr();
  const auto fc1 = fc1_.ptr();
  const auto fc2 = fc2_.ptr();
  const auto run = [norm, fc1, fc2](const torch::Tensor& x) {
    return fc2->forward(at::gelu(fc1->forward(norm->forward(x))));
  };
  if (!sdk::recomputes(recompute_mlp_, hidden)) return run(hidden);
  std::vector<torch::Tensor> parameters = norm->parameters();
  for (const auto& parameter : fc1->parameters()) parameters.push_back(parameter);
  for (const auto& parameter : fc2->parameters()) parameters.push_back(parameter);
  const auto function = [run](const std::vector<torch::Tensor>& in) { return std::vector<torch::Tensor>{run(in[0])}; };
  return sdk::recompute_in_backward(function, {hidden}, parameters).front();
}

}  // namespace rtseg::plugins::dinov2
