#pragma once

#include <string>

#include "rtseg/sdk/components/backbone.h"

namespace rtseg::plugins::dinov2 {

/// RF-DETR's optimizer rules for a backbone parameter (backbone.py get_dinov2_lr_decay_rate and
/// get_dinov2_weight_decay_rate). `name` is relative to the backbone module ("encoder.encoder.
/// encoder.layer.3.norm1.weight", "projector.stages.0.1.bias"); `num_layers` is
/// out_feature_indexes.back() + 1, as RF-DETR computes it.
///
/// ViT parameters (under "encoder."): layer_id 0 for the embeddings, k + 1 for layer k,
/// num_layers + 1 otherwise; no weight decay when the name contains gamma, pos_embed, rel_pos,
/// bias, norm or embeddings. Projector parameters: layer_id -1 (plain learning rate) with
/// weight decay.
sdk::ParameterHint dinov2_parameter_hint(const std::string& name, int num_layers);

}  // namespace rtseg::plugins::dinov2
