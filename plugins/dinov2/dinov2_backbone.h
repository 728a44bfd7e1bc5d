#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "options.h"
#include "projector.h"
#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/components/backbone.h"
#include "windowed_vit.h"

namespace rtseg::plugins::dinov2 {

/// RF-DETR's backbone "backbone.0": the windowed DINOv2 under `encoder.encoder` and the
/// multi-scale projector under `projector`, so that RF-DETR checkpoints load one to one.
class Dinov2Backbone final : public sdk::Backbone {
 public:
  /// out_channels: the projector's width (the model's hidden_dim).
  Dinov2Backbone(const Dinov2Options& options, std::int64_t out_channels);

  sdk::FeatureSpecs output_spec() const override;
  std::vector<torch::Tensor> forward(const torch::Tensor& images) override;
  std::int64_t size_divisibility() const override;
  bool set_gradient_checkpointing(bool enabled) override;
  std::map<std::string, sdk::ParameterHint> parameter_hints() const override;
  std::string state_prefix() const override { return "backbone.0"; }

  WindowedVit& vit() { return *vit_; }
  MultiScaleProjector& projector() { return *projector_; }
  /// requires_grad = false on every ViT parameter (RF-DETR's freeze_encoder).
  void freeze_encoder();

 private:
  Dinov2Options options_;
  VitConfig vit_config_;
  std::int64_t out_channels_;
  std::shared_ptr<WindowedVit> vit_;
  std::shared_ptr<MultiScaleProjector> projector_;
};

/// The factory: validates the model's hidden_dim, builds, imports `pretrained`, freezes.
std::unique_ptr<Dinov2Backbone> make_dinov2(Dinov2Options options,
                                            const sdk::BuildContext& context);

}  // namespace rtseg::plugins::dinov2
