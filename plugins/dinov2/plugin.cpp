#include "rtseg/sdk/plugin.h"
#include "dinov2_backbone.h"

namespace rtseg::plugins::dinov2 {

void register_components(sdk::Registrar& registrar) {
  registrar.add(
      "dinov2",
      sdk::make_factory<sdk::Backbone>(
          "RF-DETR's windowed DINOv2 ViT + multi-scale projector (RF-DETR weights load 1:1)",
          &dinov2_options_from, &make_dinov2));
}

}  // namespace rtseg::plugins::dinov2

RTSEG_PLUGIN("dinov2", "1.0.0", "Windowed DINOv2 backbone with RF-DETR's multi-scale projector",
             rtseg::plugins::dinov2::register_components)
