#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/sdk/build_context.h"
#include "rtseg/sdk/config_reader.h"

namespace rtseg::framework {

/// The [model] table's own keys. Its component sections (backbone, decoder, seg_head) are read
/// by the plugins they name.
struct ModelOptions {
  std::string size;               ///< variant name, used in run-folder names
  std::int64_t resolution = 640;  ///< square input side in pixels
  std::int64_t num_classes = 90;
  std::int64_t num_queries = 300;
  std::int64_t num_select = 300;
  std::int64_t hidden_dim = 256;
  /// The name of each class index (index 0 first); set from the dataset when training, so that
  /// a run's recipe.toml names its classes after the data is gone. Empty: class numbers.
  std::vector<std::string> class_names;
  /// Weights a run starts from, with RF-DETR's fine-tuning rules (train/starting_weights.h): an
  /// RF-DETR checkpoint (.pth), a .safetensors file or an rtseg run folder. Empty: none.
  std::string weights;
  bool weights_ema = false;  ///< start from the EMA copy that `weights` holds
};

ModelOptions model_options_from(sdk::ConfigReader& reader);

sdk::ModelSettings model_settings(const ModelOptions& options);

}  // namespace rtseg::framework
