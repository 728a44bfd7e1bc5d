#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "rtseg/sdk/export.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk {

/// A class as the dataset names it. Datasets list the classes in label order: the label of an
/// annotation is its category's index in Dataset::categories().
struct Category {
  std::int64_t id = 0;  ///< the id in the source files (COCO category_id); kept for COCO results
  std::string name;
};

/// An instance outline in source-image pixels: polygons (each x0, y0, x1, y1, ...) or an RLE.
/// Kept symbolic so that masks are rasterised at the size the model trains on, not the source's.
struct Segmentation {
  std::vector<std::vector<double>> polygons;
  RunLengths rle;  ///< used when polygons is empty and rle.counts is not
  bool empty() const { return polygons.empty() && rle.counts.empty(); }
};

struct Annotation {
  std::int64_t id = 0;                 ///< unique within the dataset (COCO annotation id)
  std::int64_t label = 0;              ///< index into Dataset::categories()
  std::array<double, 4> box_xywh{};    ///< source-image pixels
  double area = 0;                     ///< as the source states it (COCO `area`)
  bool is_crowd = false;               ///< kept for evaluation, left out of training targets
  Segmentation segmentation;
};

struct ImageRecord {
  std::int64_t id = 0;
  std::string file;          ///< path of the image (empty for generated images)
  std::int64_t width = 0;    ///< as the annotation file states
  std::int64_t height = 0;
};

struct Sample {
  ImageRecord record;
  at::Tensor image;  ///< uint8 [H, W, 3] RGB, H = record.height, W = record.width
  std::vector<Annotation> annotations;
};

/// Something in the data that was skipped, and why (named file and reason).
struct DataProblem {
  std::string file;    ///< file the problem is in (annotation file or image)
  std::string reason;  ///< e.g. "annotation 12: polygon with 2 points, skipped"
};

/// A labelled image collection with named splits ("train", "valid", "test").
///
/// Annotations are read when the dataset is built; images are decoded by load(). Bad annotations
/// are skipped when the dataset is built and listed by problems(); a bad image makes load() throw
/// DataError (the loader reports and skips it). All const functions are called from several
/// loader threads at once and must be thread-safe.
class RTSEG_SDK_API Dataset {
 public:
  virtual ~Dataset();
  virtual std::vector<Category> categories() const = 0;
  virtual std::vector<std::string> splits() const = 0;
  virtual std::int64_t size(std::string_view split) const = 0;
  /// The image's record and annotations, without decoding it (cheap).
  virtual ImageRecord record(std::string_view split, std::int64_t index) const = 0;
  virtual std::vector<Annotation> annotations(std::string_view split, std::int64_t index) const = 0;
  /// Decodes the image; throws DataError naming the file for a missing or corrupt image.
  virtual Sample load(std::string_view split, std::int64_t index) const = 0;
  /// (optional) What was skipped while reading the annotations of `split`.
  virtual std::vector<DataProblem> problems(std::string_view split) const;
};

}  // namespace rtseg::sdk
