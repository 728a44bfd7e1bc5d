#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

/// RF-DETR's training arguments (the flat `populate_args` namespace stored in its checkpoints
/// under 'args', as tools/convert_rfdetr.py writes it to config.json) turned into an rtseg recipe.
namespace rtseg::framework {

/// TOML text of a complete recipe (no `extends`, no [data]) for the model `args` describes:
/// [model] with its dinov2 backbone, lwdetr decoder and (segmentation_head) rfdetr_mask head,
/// [train] with loss, matcher and scheduler, from the RF-DETR keys that have an rtseg home.
/// Other keys are ignored. Throws sdk::ConfigError naming the key when a key the model needs is
/// missing or has the wrong type, or when a value has no rtseg equivalent (a non-windowed or
/// unknown encoder, a BatchNorm/RMSNorm projector, position-supervised loss, an unknown
/// lr_scheduler).
std::string recipe_from_rfdetr_args(const nlohmann::json& args);

}  // namespace rtseg::framework
