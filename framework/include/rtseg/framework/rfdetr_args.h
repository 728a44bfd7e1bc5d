#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace rtseg::framework::rfdetr {
struct Checkpoint;
}

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

/// The same for the model an RF-DETR checkpoint (.pth, rfdetr::read_checkpoint) holds: its
/// 'args', plus the DINOv2 shape its tensors show, which the args do not record (test models
/// shrink the ViT): hidden size and layer count from the tensors; the head count, which no
/// tensor shape shows, from the encoder preset when the width is the preset's, else DINOv2's
/// head width of 64 (said in a comment of the recipe). Throws sdk::ConfigError naming the file
/// when the checkpoint has no 'args' or they do not map (see above).
std::string recipe_from_rfdetr_checkpoint(const rfdetr::Checkpoint& checkpoint);

}  // namespace rtseg::framework
