#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "rtseg/sdk/recompute.h"
#include "options.h"

namespace rtseg::plugins::dinov2 {

/// query/key/value projections (Hugging Face's Dinov2SelfAttention). On the CPU, eager attention:
/// softmax(q k^T / sqrt(d)) v, the form RF-DETR's fixtures were computed with; on a GPU with
/// LibTorch >= 2, scaled_dot_product_attention (fused kernels, no probabilities held).
class VitSelfAttention final : public torch::nn::Module {
 public:
  VitSelfAttention(std::int64_t hidden_size, std::int64_t num_heads);
  /// [N, T, C] -> [N, T, C] (before the output projection).
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::int64_t num_heads_;
  std::int64_t head_dim_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr};
};

/// Per-channel scale `lambda1` on a residual branch.
class LayerScale final : public torch::nn::Module {
 public:
  LayerScale(std::int64_t hidden_size, double init);
  torch::Tensor forward(const torch::Tensor& x) { return x * lambda1_; }
  void reset(double init);

 private:
  torch::Tensor lambda1_;
};

/// Stochastic-depth keep masks of one layer, drawn before the layer runs so that a recomputation
/// (gradient checkpointing) sees the same ones. Undefined = keep everything.
struct DropPathMasks {
  torch::Tensor attention;  ///< [N, 1, 1] of 0/1 for the attention branch
  torch::Tensor mlp;        ///< the same for the MLP branch
  double keep_prob = 1.0;

  /// RF-DETR's drop_path: floor(keep + U[0, 1)) per sample, one draw per branch, attention first.
  static DropPathMasks draw(const torch::Tensor& like, double drop_prob);
};

/// One pre-norm DINOv2 layer: x + ls1(attn(norm1(x))), then + ls2(mlp(norm2(.))).
/// Parameter names follow Hugging Face's Dinov2WithRegistersLayer.
class VitLayer final : public torch::nn::Module {
 public:
  explicit VitLayer(const VitConfig& config);

  /// x: [B*w*w, T, C] windowed tokens. full_attention: attend across the w*w windows of each
  /// image (the tokens are viewed as [B, w*w*T, C] for the attention only).
  torch::Tensor forward(const torch::Tensor& x, bool full_attention,
                        const DropPathMasks& masks = {});

  /// Hugging Face DINOv2 init: trunc-normal(0.02) linear weights, zero biases, unit norms,
  /// layer scale = init value.
  void reset_parameters(double layer_scale_init);

 private:
  /// norm2, fc1, GELU, fc2 (recomputed in backward when the config asks).
  torch::Tensor mlp(const torch::Tensor& hidden);

  std::int64_t windows_squared_;
  sdk::RecomputePolicy recompute_mlp_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  std::shared_ptr<VitSelfAttention> self_attention_;
  torch::nn::Linear output_dense_{nullptr};
  std::shared_ptr<LayerScale> layer_scale1_, layer_scale2_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};

}  // namespace rtseg::plugins::dinov2
