#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rtseg/framework/model.h"
#include "rtseg/framework/weights.h"
#include "rtseg/sdk/safetensors.h"

namespace spdlog {
class logger;
}

/// The weights a run starts from (`model.weights`, `rtseg train --weights`), loaded with
/// RF-DETR's fine-tuning rules: what users of RF-DETR get from `pretrain_weights`.
namespace rtseg::framework::train {

/// One set of named tensors and where it came from. What each source gives:
///   - an RF-DETR checkpoint (.pth): its 'model'; with `ema`, its 'ema_model' (training
///     checkpoints have one, published weights do not);
///   - a .safetensors file: its tensors (one set: there is no EMA copy to choose);
///   - an rtseg run folder: weights/best.safetensors (the better of the raw model and its EMA at
///     the best epoch); with `ema`, weights/last.safetensors, the EMA of the last epoch (runs
///     trained with train.ema = true).
struct StartingWeights {
  std::filesystem::path file;  ///< the file the tensors are read from
  std::string label;           ///< how messages name them, e.g. "x.pth (ema_model)"
  std::optional<sdk::SafetensorsFile> safetensors;  ///< set for .safetensors files and run folders
  NamedTensors tensors;                             ///< set for .pth files
  /// How to get a recipe these weights fit, for the shape-mismatch message.
  std::string fitting_recipe;
};

/// Opens `given` (see StartingWeights). Throws sdk::ConfigError naming the path when it is none
/// of the three, or when `ema` asks for a copy it does not hold; sdk::DataError for a bad file.
StartingWeights open_starting_weights(const std::filesystem::path& given, bool ema);

/// RF-DETR's fine-tuning start: class heads (class_embed and every
/// transformer.enc_out_class_embed.N) tiled to the model's num_classes + 1 rows, query tables
/// (refpoint_embed, query_feat) cut to the model's num_queries x group_detr rows, every other
/// tensor loaded by name; tensors the weights lack start fresh (e.g. a mask head on a detector's
/// weights), tensors the model lacks are ignored. Logs one line saying what was loaded,
/// resized, left fresh and ignored. Throws sdk::ConfigError before changing anything when
/// tensors have another shape (another backbone, hidden size, ...), naming the first ones and
/// the recipe that would fit.
LoadReport load_starting_weights(Model& model, const StartingWeights& weights, spdlog::logger& log);

}  // namespace rtseg::framework::train
