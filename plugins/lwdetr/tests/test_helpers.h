#pragma once

// Small builders shared by the lwdetr tests.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "lwdetr_decoder.h"
#include "rtseg/sdk/build_context.h"

namespace rtseg::plugins::lwdetr::testing {

/// The tiny fixture configuration: hidden 64, 2 layers, 2 / 4 heads, 2 points, FFN 128,
/// 20 queries x 13 groups, 3 classes (4 logits).
inline LwDetrOptions tiny_options() {
  LwDetrOptions o;
  o.dec_layers = 2;
  o.sa_nheads = 2;
  o.ca_nheads = 4;
  o.dec_n_points = 2;
  o.dim_feedforward = 128;
  o.group_detr = 13;
  return o;
}

inline sdk::BuildContext tiny_context(std::int64_t levels = 1, std::int64_t hidden = 64) {
  sdk::BuildContext context;
  context.model.hidden_dim = hidden;
  context.model.num_queries = 20;
  context.model.num_classes = 3;
  for (std::int64_t l = 0; l < levels; ++l) {
    context.inputs.push_back(sdk::FeatureSpec{"p" + std::to_string(4 + l), hidden, 16 << l});
  }
  return context;
}

/// Adds N(0, std^2) to every parameter, so that zero-initialised paths carry signal.
inline void perturb(torch::nn::Module& module, double std = 0.02) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters()) parameter.add_(torch::randn_like(parameter) * std);
}

/// Random [B, d, h, w] maps for each (h, w), with no padding.
struct Inputs {
  std::vector<torch::Tensor> features;
  std::vector<torch::Tensor> masks;
};
inline Inputs random_inputs(std::int64_t batch, std::int64_t hidden,
                            const std::vector<std::pair<std::int64_t, std::int64_t>>& sizes) {
  Inputs in;
  for (const auto& [h, w] : sizes) {
    in.features.push_back(torch::randn({batch, hidden, h, w}));
    in.masks.push_back(torch::zeros({batch, h, w}, torch::kBool));
  }
  return in;
}

/// Largest |a - b| over entries where both are finite; non-finite entries must be identical.
inline double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor finite = torch::isfinite(a) & torch::isfinite(b);
  if (!torch::equal(a.masked_fill(finite, 0), b.masked_fill(finite, 0))) return INFINITY;
  if (a.numel() == 0) return 0.0;
  return (a - b).masked_fill(finite.logical_not(), 0).abs().max().item<double>();
}

}  // namespace rtseg::plugins::lwdetr::testing
