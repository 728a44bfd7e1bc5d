#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/export.h"

namespace rtseg::sdk {

struct Category {
  std::int64_t id = 0;  ///< the id in the source files (COCO category_id)
  std::string name;
};

/// Run-length encoding in COCO order (column-major, starting with a run of zeros).
struct RunLengths {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<std::uint32_t> counts;
};

/// An instance outline in source-image pixels: polygons (each x0, y0, x1, y1, ...) or an RLE.
/// Kept symbolic so that masks are rasterised at the size the model trains on.
struct Segmentation {
  std::vector<std::vector<double>> polygons;
  RunLengths rle;  ///< used when polygons is empty and rle.counts is not
};

struct Annotation {
  std::int64_t id = 0;
  std::int64_t label = 0;              ///< contiguous class index into Dataset::categories()
  std::array<double, 4> box_xywh{};    ///< source-image pixels
  double area = 0;
  bool is_crowd = false;               ///< kept for evaluation, left out of training targets
  Segmentation segmentation;
};

struct ImageRecord {
  std::int64_t id = 0;
  std::string file;  ///< path of the image (empty for generated images)
  std::int64_t width = 0;
  std::int64_t height = 0;
};

struct Sample {
  ImageRecord record;
  at::Tensor image;  ///< uint8 [H, W, 3]
  std::vector<Annotation> annotations;
};

/// A labelled image collection with named splits ("train", "valid", "test").
/// load() is called from several loader threads at once and must be thread-safe.
class RTSEG_SDK_API Dataset {
 public:
  virtual ~Dataset();
  virtual std::vector<Category> categories() const = 0;
  virtual std::vector<std::string> splits() const = 0;
  virtual std::int64_t size(std::string_view split) const = 0;
  virtual Sample load(std::string_view split, std::int64_t index) const = 0;
};

}  // namespace rtseg::sdk
