#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtseg/sdk/config_reader.h"
#include "shapes.h"

namespace rtseg::plugins::synthetic_shapes {

/// The embedded default dataset: procedurally drawn scenes, no files needed.
struct SyntheticOptions {
  std::int64_t train_images = 200;   // images in the "train" split
  std::int64_t valid_images = 50;    // images in the "valid" split
  std::int64_t test_images = 0;      // images in the "test" split
  std::int64_t min_size = 256;       // image sides are drawn from [min_size, max_size]
  std::int64_t max_size = 320;
  std::int64_t min_objects = 1;      // objects per image
  std::int64_t max_objects = 5;
  double min_object_fraction = 0.12;  // object size as a fraction of the image's shorter side
  double max_object_fraction = 0.45;
  std::vector<std::string> shapes = kShapeNames;  // the classes drawn, in label order
  std::int64_t seed = 0;             // the same seed draws the same images
  std::int64_t cache_mib = 512;      // rendered images kept in memory up to this size (0: none)
};

SyntheticOptions synthetic_options_from(sdk::ConfigReader& reader);

}  // namespace rtseg::plugins::synthetic_shapes
