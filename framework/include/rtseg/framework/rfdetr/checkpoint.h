#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "rtseg/framework/pytorch/torch_file.h"

/// RF-DETR's checkpoint files (.pth), read without Python: its published weights
/// ({'model', 'args'}) and its training checkpoints ({'model', 'optimizer', 'lr_scheduler',
/// 'epoch', 'args'[, 'ema_model']}). The file format itself is pytorch::read_torch_file's.
namespace rtseg::framework::rfdetr {

/// Tensors by their state-dict names (RF-DETR's module names, which rtseg's model tree shares).
using NamedTensors = std::map<std::string, at::Tensor>;

struct Checkpoint {
  std::filesystem::path path;
  NamedTensors model;       ///< checkpoint['model']
  NamedTensors ema_model;   ///< checkpoint['ema_model'], empty when absent
  nlohmann::json args;      ///< vars(checkpoint['args']) as JSON (see pytorch::to_json); null when absent
  std::optional<std::int64_t> epoch;  ///< checkpoint['epoch'] of a training checkpoint
};

/// Reads `file` (a .pth in the zip or the legacy format). The tensors are CPU tensors in the
/// file's dtypes; with the zip format they view a private memory map of the file (see
/// pytorch::read_torch_file). A file that is a bare state dict (every value a tensor) is read as
/// its 'model'. Throws sdk::DataError naming the file: unreadable, corrupt or truncated, a refused
/// pickle global, no 'model' state dict, or a 'model' entry that is not a tensor.
Checkpoint read_checkpoint(const std::filesystem::path& file);

/// The same, for a file torch_file.h already read; `path` names it in messages.
Checkpoint checkpoint_from(const pytorch::TorchFile& file, const std::filesystem::path& path);

}  // namespace rtseg::framework::rfdetr
