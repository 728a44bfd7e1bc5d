#pragma once

#include <memory>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>

#include "embeddings.h"
#include "options.h"
#include "vit_layer.h"

namespace rtseg::plugins::dinov2 {

/// RF-DETR's windowed DINOv2 (WindowedDinov2WithRegistersBackbone): embeddings, layers under
/// `encoder.layer.N`, and the final `layernorm` applied to every tapped stage.
class WindowedVit final : public torch::nn::Module {
 public:
  explicit WindowedVit(const VitConfig& config);

  /// images [B, 3, H, W] (H, W multiples of patch_size * num_windows) -> one [B, C, H/p, W/p]
  /// map per out_feature_indexes entry. Layers after the last tapped stage are not run.
  std::vector<torch::Tensor> forward(const torch::Tensor& images);

  /// In training mode with grad enabled, run each layer through checkpointed_layer_forward.
  void set_gradient_checkpointing(bool enabled) { checkpointing_ = enabled; }

  const VitConfig& config() const { return config_; }
  VitEmbeddings& embeddings() { return *embeddings_; }

 private:
  torch::Tensor run_layer(std::size_t index, const torch::Tensor& hidden);
  torch::Tensor to_feature_map(const torch::Tensor& hidden, std::int64_t grid_h,
                               std::int64_t grid_w);

  VitConfig config_;
  bool checkpointing_ = false;
  std::shared_ptr<VitEmbeddings> embeddings_;
  std::vector<std::shared_ptr<VitLayer>> layers_;
  torch::nn::LayerNorm layernorm_{nullptr};
};

}  // namespace rtseg::plugins::dinov2
