#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "json_values.h"
#include "rtseg/sdk/components/dataset.h"

namespace rtseg::plugins::coco {

/// An RLE as written in the file, decoded only once the image it belongs to is known.
struct RawRle {
  std::int64_t height = 0;
  std::int64_t width = 0;
  bool compressed = false;            ///< counts given as pycocotools' string
  std::string text;                   ///< compressed counts
  std::vector<std::uint32_t> counts;  ///< uncompressed counts
  bool counts_out_of_range = false;   ///< a negative count or one above 2^32 - 1
};

/// One element of "annotations", read with every type checked but no cross-reference resolved.
struct RawAnnotation {
  std::int64_t index = 0;  ///< position in the "annotations" array
  std::int64_t image_id = 0;
  std::int64_t category_id = 0;
  std::optional<double> area;   ///< absent in some exports
  sdk::Annotation annotation;   ///< id, box, crowd flag, polygons (label not yet set)
  std::unique_ptr<RawRle> rle;  ///< rare (crowds); kept out of line to keep this small
  bool flat_polygon = false;    ///< "segmentation": [x, y, ...] without the outer list
};

/// Reads annotations[index]. Missing required fields (id, image_id, category_id, bbox), values of
/// the wrong type and a bbox that is not 4 numbers throw sdk::DataError naming the place.
RawAnnotation read_annotation(ondemand::value& value, const JsonPlace& place);

}  // namespace rtseg::plugins::coco
