#pragma once

#include <cstdint>
#include <string>

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
};

ModelOptions model_options_from(sdk::ConfigReader& reader);

sdk::ModelSettings model_settings(const ModelOptions& options);

}  // namespace rtseg::framework
