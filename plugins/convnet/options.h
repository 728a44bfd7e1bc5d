#pragma once

#include <cstdint>

#include "rtseg/sdk/config_reader.h"

namespace rtseg::plugins::convnet {

/// A small residual CNN that learns from scratch in minutes (the quickstart's backbone). Its one
/// output map has model.hidden_dim channels, like the dinov2 projector's, so every decoder and
/// mask head takes it.
struct ConvNetOptions {
  std::int64_t width = 32;        // channels after the stem; doubled at each downsampling stage
  std::int64_t blocks = 1;        // residual blocks per stage
  std::int64_t output_stride = 8; // 8 or 16: the output map's stride
};

ConvNetOptions convnet_options_from(sdk::ConfigReader& reader);

}  // namespace rtseg::plugins::convnet
