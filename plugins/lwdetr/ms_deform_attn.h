#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "levels.h"

namespace rtseg::plugins::lwdetr {

/// The sampling core of multi-scale deformable attention, in plain tensor ops (what RF-DETR runs:
/// ms_deform_attn_core_pytorch).
///
/// value: [B, S, heads, head_dim] (levels end to end); sampling_locations: [B, Q, heads, L, P, 2]
/// in [0, 1] (x, y) of each level's map; attention_weights: [B, Q, heads, L, P], normalised.
/// Each point is read by bilinear interpolation (grid_sample, zeros outside,
/// align_corners=false). Returns [B, Q, heads * head_dim].
torch::Tensor ms_deform_attn_core(const torch::Tensor& value, const std::vector<LevelShape>& shapes,
                                  const torch::Tensor& sampling_locations,
                                  const torch::Tensor& attention_weights);

/// Multi-scale deformable attention (Deformable DETR) with RF-DETR's parameter names:
/// sampling_offsets, attention_weights, value_proj, output_proj.
class MsDeformAttnImpl : public torch::nn::Module {
 public:
  MsDeformAttnImpl(std::int64_t d_model, std::int64_t n_levels, std::int64_t n_heads,
                   std::int64_t n_points);

  /// query: [B, Q, d]; reference_points: [B, Q, L, 2] (x, y) or [B, Q, L, 4] (cx, cy, w, h), in
  /// [0, 1] of each level; value_input: [B, S, d]; padding: [B, S] bool or undefined.
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& reference_points,
                        const torch::Tensor& value_input, const std::vector<LevelShape>& shapes,
                        const torch::Tensor& padding);

  /// Deformable DETR's initialisation: zero offset weights with a bias that points head h in
  /// direction 2 pi h / heads (point p at distance p + 1), uniform attention, xavier projections.
  void reset_parameters();

 private:
  std::int64_t d_model_, n_levels_, n_heads_, n_points_;
  torch::nn::Linear sampling_offsets_{nullptr}, attention_weights_{nullptr};
  torch::nn::Linear value_proj_{nullptr}, output_proj_{nullptr};
};
TORCH_MODULE(MsDeformAttn);

}  // namespace rtseg::plugins::lwdetr
